"""Writing files so that a reader sees either the old file or the whole new one."""

import contextlib
import os
import tempfile

from .errors import UserError


class OutputError(UserError):
    """An output that cannot be written; the message is meant for the user."""


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one step.

    If the body raises (or the process dies), `path` keeps its previous
    content and the temporary file is removed when possible.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=directory)
    except OSError as err:
        raise OutputError(f"cannot write to {directory}: {err.strerror or err}") from None
    os.close(fd)
    # mkstemp makes the file private; the result should get the usual permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path, text):
    """Write `text` to `path` atomically; an OS failure is an OutputError."""
    try:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
