"""Stop signals: Ctrl-C, and what `docker stop`, systemd, batch schedulers and a closed terminal send.

The first asks the run to finish its epoch, save and exit 0; a second aborts.
"""

import contextlib
import signal
import threading

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def handled(handler):
    """Every stop signal goes to `handler` inside the block (on the main thread; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def stop_on_interrupt(stop_event, kept, log, abort_unless=None):
    """The first stop signal sets `stop_event` (finish the epoch, save, exit 0); a second one aborts.

    `kept()` says what is on disk at that moment, for the message. With
    `abort_unless`, a signal while it returns False aborts at once (there
    is nothing yet to stop with).
    """

    def handler(signum, frame):
        if stop_event.is_set() or (abort_unless is not None and not abort_unless()):
            raise KeyboardInterrupt
        stop_event.set()
        log(f"{signal.Signals(signum).name}: stopping after this epoch, then saving (Ctrl-C again to abort: {kept()})")

    return handled(handler)
