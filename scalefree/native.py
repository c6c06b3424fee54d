"""What native libraries write straight to file descriptor 2, caught.

TensorFlow's absl logging and OpenCV's FFmpeg backend print to the process's
stderr from C, past Python's `sys.stderr`. The tool decides what of that a
user sees, so the noisy calls run inside `captured_stderr()`.
"""

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def captured_stderr():
    """Point file descriptor 2 at a temporary file; yields a list that holds the text afterwards."""
    sys.stderr.flush()
    caught = []
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield caught
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            caught.append(sink.read().decode("utf-8", errors="replace"))
