"""Writing files so that a reader sees either the old file or the whole new one."""

import contextlib
import glob
import os
import secrets

from ..errors import UserError


class OutputError(UserError):
    """An output that cannot be written; the message is meant for the user."""


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary_name(path, pid):
    # Hidden, named after the file and the writer; the extension stays last,
    # for writers that choose the format by it (OpenCV's video writer does).
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{pid}-{secrets.token_hex(4)}.tmp{os.path.splitext(name)[1]}")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale(path):
    """Remove temporary files that a killed writer of `path` left behind (never a live writer's)."""
    directory, name = os.path.split(os.path.abspath(path))
    for tmp in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}.*-*.tmp*")):
        pid = os.path.basename(tmp)[len(name) + 2 :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one step.

    If the body raises (or the process dies), `path` keeps its previous
    content and the temporary file is removed when possible; what a killed
    process could not remove, the next write of the same file does.
    """
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    tmp = _temporary_name(path, os.getpid())
    try:
        os.makedirs(directory, exist_ok=True)
        remove_stale(path)
        # Created private (0o600) then given the usual permissions for a new file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as err:
        raise OutputError(f"cannot write to {directory}: {err.strerror or err}") from None
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


def write_bytes(path, data):
    """Write `data` to `path` atomically; an OS failure is an OutputError."""
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(data)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


@contextlib.contextmanager
def held(path):
    """Hold `path` for this process: a second run that asks for it meanwhile gets an OutputError.

    The lock is an flock on a hidden file beside `path`; the kernel releases
    it when its holder dies, so a killed run never blocks the next one.
    """
    try:
        import fcntl
    except ImportError:  # no flock here: nothing to hold
        yield
        return
    directory, name = os.path.split(os.path.abspath(path))
    lock = os.path.join(directory, f".{name}.lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise OutputError(f"cannot write to {directory}: {err.strerror or err}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputError(
                f"{path} is being trained by another run (process {holder}); wait for it or stop it"
            ) from None
        try:
            # The previous holder removes the file as it lets go: lock the file that is there now.
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
