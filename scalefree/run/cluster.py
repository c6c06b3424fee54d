"""Which tf.distribute strategy trains a run, and which process of a cluster writes its files.

Read from the options and TF_CONFIG before TensorFlow loads; the strategy
itself is built in scalefree.nn.strategy.

`default`: one device. `mirrored`: every GPU of this machine (or the CPU),
data-parallel. `multiworker`: several processes, on one host or many, as the
`TF_CONFIG` environment variable describes them (TensorFlow's own cluster
format); each trains a copy of the model on its share of every batch and
the gradients are summed across all of them. The chief alone writes
checkpoints and frames and opens a window.
"""

import contextlib
import hashlib
import json
import math
import os
import signal
import socket
import struct
import threading
import time

from ..config import ConfigError
from ..errors import UserError

STRATEGIES = ("default", "mirrored", "multiworker")


def cluster():
    """TF_CONFIG as a dict (empty when unset); a malformed one is a ConfigError."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        config = json.loads(text)
        config["cluster"], config["task"]["type"], config["task"]["index"]  # noqa: B018 (checked to exist)
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            'TF_CONFIG is not a cluster: {"cluster": {...}, "task": {"type": ..., "index": ...}}'
        ) from None
    return config


def is_chief(name):
    """Whether this process writes the run's files: always, except for the other workers of a cluster."""
    if name != "multiworker":
        return True
    config = cluster()
    task = config["task"]
    if "chief" in config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


class ClusterError(UserError):
    """The cluster did not form, or lost a worker; the message says which and what is saved."""


def check(name, timeout=None):
    """Refuse, before TensorFlow loads, a strategy that cannot start.

    For a cluster: this process's place must be in it, every address must
    be host:port and every host must resolve (within `timeout` seconds).
    """
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
        raise ConfigError(f"--cluster_timeout must be 0 (wait for ever) or a positive number of seconds, got {timeout}")
    if name != "multiworker":
        return
    config = cluster()
    if not config:
        raise ConfigError("--strategy multiworker reads its cluster from TF_CONFIG, which is not set (see README)")
    jobs, task = config["cluster"], config["task"]
    if not isinstance(jobs, dict) or not all(isinstance(v, list) for v in jobs.values()):
        raise ConfigError('TF_CONFIG\'s "cluster" must map each job ("chief", "worker") to a list of host:port')
    kind, index = task["type"], task["index"]
    members = jobs.get(kind)
    if members is None:
        raise ConfigError(f"TF_CONFIG's task is a {kind!r}, but its cluster has no {kind!r} job ({', '.join(jobs)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(members):
        raise ConfigError(
            f"TF_CONFIG puts this process at {kind} {index!r}, but its cluster has "
            f"{len(members)} {kind}{'s' if len(members) != 1 else ''} (0 to {len(members) - 1})"
        )
    for job, address in addresses(config):
        host, _, port = str(address).rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"TF_CONFIG's {job} address {address!r} is not host:port")
        _resolve(job, host.strip("[]"), address, timeout)


def resumes(options, stored, checkpoint_path):
    """Whether a cluster's run goes on from the checkpoint it finds (one of its own, not asked for with -m)."""
    return (
        options.strategy == "multiworker"
        and stored is None
        and not options.overwrite
        and bool(checkpoint_path)
        and os.path.isfile(checkpoint_path)
    )


def addresses(config=None):
    """Every process of the cluster as (name, address), e.g. ("worker 1", "10.0.0.2:2222")."""
    config = config or cluster()
    return [(f"{job} {i}", a) for job, members in config["cluster"].items() for i, a in enumerate(members)]


def me(config=None):
    """This process's name in the cluster, e.g. "worker 0"."""
    task = (config or cluster())["task"]
    return f"{task['type']} {task['index']}"


def _resolve(job, host, address, timeout):
    # getaddrinfo can wait long on an unanswered name server, deaf to signals: ask on a thread.
    found = {}

    def look():
        try:
            found["ok"] = socket.getaddrinfo(host, None)
        except OSError as err:
            found["error"] = err

    thread = threading.Thread(target=look, daemon=True, name="scalefree-resolve")
    thread.start()
    deadline = time.monotonic() + (timeout or 30.0)
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(0.2)
    if "ok" not in found:
        why = found.get("error") or "no answer from the name server"
        raise ConfigError(f"TF_CONFIG's {job} address {address} does not resolve: {why}")


def answering(address, seconds=1.0):
    """Whether something accepts connections at host:port (a worker's server is up)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=seconds):
            return True
    except OSError:
        return False


def silent(config=None):
    """The other processes of the cluster whose address does not answer, as (name, address)."""
    mine = me(config)
    return [(name, a) for name, a in addresses(config) if name != mine and not answering(a)]


def form(build, timeout, log, stop, every=10.0):
    """The strategy `build()` makes, once every other process of the cluster answers at its address.

    TensorFlow's own wait for the cluster holds Python's interpreter lock:
    nothing else runs, no signal is handled, and it never gives up. So the
    waiting is done here first: this process answers at its own address (a
    plain socket), and checks the others' every half second, saying whom it
    waits for; it honours signals (a first stop sets `stop`, and then this
    returns None) and gives up after `timeout` seconds (0: never) with a
    ClusterError. Only then does TensorFlow join them, which takes a moment;
    a stop signal in that moment ends the process at once.
    """
    every_address = [a for _, a in addresses()]
    log(f"joining the cluster as {me()} of {len(every_address)} ({', '.join(every_address)})")
    started = told = time.monotonic()
    with _answering_at(dict(addresses())[me()]) as answer:
        while True:
            missing = silent()
            if not missing or stop.is_set():
                break
            waited = time.monotonic() - started
            who = ", ".join(f"{name} at {a}" for name, a in missing)
            if timeout and waited >= timeout:
                raise ClusterError(
                    f"the cluster did not form in {timeout:g} s (--cluster_timeout): no answer from {who}"
                )
            if time.monotonic() - told >= every:
                told = time.monotonic()
                log(f"waiting {waited:.0f} s for {who}" + (f" (giving up at {timeout:g} s)" if timeout else ""))
            for _ in range(5):
                answer()
                time.sleep(0.1)
    if stop.is_set():
        return None
    with _signals_end_the_process():
        return build()


@contextlib.contextmanager
def _answering_at(address):
    """A listening socket at this process's port until TensorFlow's server takes it; yields `answer()`.

    `answer()` accepts and resets the connections the others' checks made,
    so none waits in the queue and none leaves the port in TIME_WAIT.
    """
    port = int(address.rpartition(":")[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", port))
    except OSError as err:
        listener.close()
        why = err.strerror or err
        raise ClusterError(f"cannot listen at {address} ({me()}'s address in TF_CONFIG): {why}") from None
    listener.listen(64)
    listener.setblocking(False)

    def answer():
        while True:
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    try:
        yield answer
    finally:
        listener.close()


@contextlib.contextmanager
def _signals_end_the_process():
    """Stop signals take their default action (the process ends) inside the block, on the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    chosen = [getattr(signal, n) for n in names if hasattr(signal, n)]
    previous = {s: signal.signal(s, signal.SIG_DFL) for s in chosen}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def shared_seed(name):
    """A seed every process of a cluster draws alike (from its cluster's description), or None.

    The processes of a cluster must place the same dividers and visit pixels
    in the same order; given no --seed, each would draw its own.
    """
    if name != "multiworker":
        return None
    text = json.dumps(cluster()["cluster"], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") % 2**31
