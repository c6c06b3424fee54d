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

import hashlib
import json
import os

from ..config import ConfigError

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


def check(name):
    """Refuse, before TensorFlow loads, a strategy that cannot start."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    if name == "multiworker" and not cluster():
        raise ConfigError("--strategy multiworker reads its cluster from TF_CONFIG, which is not set (see README)")


def shared_seed(name):
    """A seed every process of a cluster draws alike (from its cluster's description), or None.

    The processes of a cluster must place the same dividers and visit pixels
    in the same order; given no --seed, each would draw its own.
    """
    if name != "multiworker":
        return None
    text = json.dumps(cluster()["cluster"], sort_keys=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") % 2**31
