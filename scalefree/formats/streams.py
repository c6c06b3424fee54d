"""Reading what a path names without ever blocking on it: files, pipes, FIFOs, devices.

A regular file is read as usual. A pipe or FIFO (`-i /dev/stdin`,
`-i <(curl ...)`, a named FIFO) is read without blocking, a poll at a time,
so a signal is always honoured and a FIFO that nobody writes to ends in an
error after STREAM_WAIT seconds instead of a hang. Devices, sockets and
folders are refused before they are opened: /dev/zero never ends, and a
terminal waits for a person.
"""

import os
import select
import stat
import time

from ..errors import UserError

# How long a pipe or FIFO may stay silent before we give up on it.
STREAM_WAIT = 10.0
# Polls are this short so that a signal's handler runs within a fraction of a second.
_POLL_SECONDS = 0.2
_CHUNK = 1 << 20


class NotAFile(UserError):
    """A path that names something other than a file, or a stream that gave nothing."""


def kind_of(mode):
    """What a stat mode is, in a user's words."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISFIFO, "a pipe or FIFO"),
    ):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a file"


def _a(what):
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


def check_readable(path, what="file"):
    """Refuse, without opening it, a path that is neither a regular file nor a pipe or FIFO."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise NotAFile(f"cannot read {what} {path}: {err.strerror or err}") from None
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise NotAFile(f"{path} is {kind_of(mode)}, not {_a(what)}")
    return mode


def read_bytes(path, limit, what="file", wait=STREAM_WAIT):
    """The bytes at `path` (at most `limit` of them), from a regular file or a pipe; NotAFile otherwise."""
    mode = check_readable(path, what)
    if stat.S_ISREG(mode):
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    else:
        data = _read_stream(path, limit, what, wait)
    if len(data) > limit:
        raise NotAFile(f"{path} holds more than {limit >> 20} MB, more than {_a(what)} scalefree reads")
    return data


def _read_stream(path, limit, what, wait):
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, deaf to signals.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    chunks, size, heard = [], 0, time.monotonic()
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while size <= limit:
            events = poller.poll(_POLL_SECONDS * 1000)
            if not events:
                if time.monotonic() - heard > wait:
                    raise NotAFile(f"nothing came from {path} in {wait:g} s: is anything writing to it?")
                continue
            try:
                chunk = os.read(fd, _CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                # The writer closed it (or none had opened it yet: a FIFO reads as ended then).
                if chunks or events[0][1] & select.POLLHUP:
                    break
                if time.monotonic() - heard > wait:
                    raise NotAFile(f"nothing came from {path} in {wait:g} s: is anything writing to it?")
                time.sleep(_POLL_SECONDS)
                continue
            chunks.append(chunk)
            size += len(chunk)
            heard = time.monotonic()
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not data:
        raise NotAFile(f"{path} is {kind_of(os.stat(path).st_mode)} that gave no data, not {_a(what)}")
    return data
