"""TensorFlow and Keras, imported quietly and with their native symbols kept private.

Quiet: TensorFlow 2.21's native libraries log through absl before anything
has initialised absl's logging, and absl then writes every message to stderr
whatever TF_CPP_MIN_LOG_LEVEL says (a oneDNN notice and "Could not find cuda
drivers" twice per process, on machines with no GPU). So the import runs with
file descriptor 2 pointed at a temporary file, and what it wrote is passed on
afterwards without the messages below TF_CPP_MIN_LOG_LEVEL. Errors and fatal
messages, Python warnings and anything not in absl's format always pass.
`TF_CPP_MIN_LOG_LEVEL=0` (what `--verbose` sets) passes everything.

Private symbols: TensorFlow loads its core library with RTLD_GLOBAL so that
custom-op libraries can link against it. Its exported symbols (its own LLVM
among them) then take precedence over those of every library loaded later,
and Mesa's OpenGL driver, loaded when the preview window opens, crashed in
its first draw calls. scalefree loads no custom ops, so it asks for
RTLD_LOCAL instead.

Every module here imports TensorFlow through this one.
"""

import contextlib
import os
import re
import sys

from ..native import captured_stderr

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# absl's prefix: severity letter, MMDD, time (e.g. "I0000 00:00:1795666646.151473 2599 port.cc:153] ...").
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d")
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
# Errors that only say there is no GPU here: as informative as "Could not find cuda drivers".
_NO_GPU = re.compile(r"failed call to cuInit")
# What Python's warnings module prints: "path.py:12: SomeWarning: text".
_PYTHON_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")


def min_log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def native_lines_to_show(text, level):
    """The lines of `text` a user should see at TF_CPP_MIN_LOG_LEVEL `level`.

    Below `level` go absl's info (0) and warning (1) messages, the lines
    that continue them, and the preamble absl prints before them; errors and
    fatal messages always stay.
    """
    if level <= 0:
        return text.splitlines(keepends=True)
    shown, dropping = [], False
    for line in text.splitlines(keepends=True):
        match = _ABSL_LINE.match(line)
        if match:
            severity = 0 if _NO_GPU.search(line) else _SEVERITY[match.group(1)]
            dropping = severity < min(level, 2)
        elif line.startswith(_ABSL_PREAMBLE):
            dropping = True
        elif _PYTHON_WARNING.match(line):
            dropping = False
        if not dropping:
            shown.append(line)
    return shown


@contextlib.contextmanager
def quiet_native():
    """What TensorFlow's native code prints to stderr inside the block, filtered as at import."""
    with _native_stderr_filtered():
        yield


@contextlib.contextmanager
def _native_stderr_filtered():
    level = min_log_level()
    if level <= 0:
        yield
        return
    caught = []
    try:
        with captured_stderr() as caught:
            yield
    finally:
        # Also when the import failed: its error is among what was caught.
        sys.stderr.writelines(native_lines_to_show("".join(caught), level))
        sys.stderr.flush()


@contextlib.contextmanager
def _private_symbols():
    if not hasattr(sys, "setdlopenflags"):
        yield
        return
    set_flags = sys.setdlopenflags
    sys.setdlopenflags = lambda flags: set_flags(flags & ~os.RTLD_GLOBAL)
    try:
        yield
    finally:
        sys.setdlopenflags = set_flags


if "tensorflow" not in sys.modules:
    with _native_stderr_filtered(), _private_symbols():
        import keras
        import tensorflow as tf
else:
    import keras
    import tensorflow as tf

__all__ = ["keras", "tf"]
