"""Commands started in the background by the tests, read without ever blocking on them.

Every wait has a deadline, and a wait that runs out fails with what it
waited for and what the process printed, instead of hanging or going on
with a process that never got there.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

from conftest import ROOT

# Long enough for TensorFlow to load and trace on a loaded 2-core machine (a first cycle comes
# after about 5 s alone; three test runs at once took up to 40 s), short of a hang.
DEADLINE = 180


class Process:
    """A command whose stdout and stderr are read by threads as they come, line by line."""

    def __init__(self, args, env=None, cwd=ROOT):
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
        )
        self.pid = self.proc.pid
        self.lines = queue.Queue()
        self.out, self.err = [], []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, kept, queued):
        for line in stream:
            kept.append(line)
            if queued:
                self.lines.put(line)
        stream.close()
        if queued:
            self.lines.put(None)

    def said(self):
        out, err = "".join(self.out)[-3000:], "".join(self.err)[-3000:]
        return f"command: {' '.join(self.args)}\nstdout:\n{out}\nstderr:\n{err}"

    def wait_for(self, pattern, timeout=DEADLINE):
        """The first line of stdout (from here on) that matches `pattern`; fails at the deadline or at exit."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s\n{self.said()}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=30)
                raise AssertionError(
                    f"exited ({self.proc.returncode}) with no line matching {pattern!r}\n{self.said()}"
                )
            if re.search(pattern, line):
                return line

    def signal(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)

    def finish(self, timeout=DEADLINE):
        """(exit code, stdout, stderr) once it ends; at the deadline it is killed and the test fails."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack, where enabled
            try:
                self.proc.wait(timeout=10)
            finally:
                self.kill()
            raise AssertionError(f"did not end within {timeout} s\n{self.said()}") from None
        for reader in self._readers:
            reader.join(timeout=10)
        return self.proc.returncode, "".join(self.out), "".join(self.err)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def image_learn(*args, env=None):
    """image_learn.py in the background, with faulthandler on (a stack dump if it has to be aborted)."""
    env = {**(env if env is not None else os.environ), "PYTHONFAULTHANDLER": "1"}
    return Process([sys.executable, ROOT / "image_learn.py", *args], env=env)
