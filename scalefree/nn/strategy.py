"""The tf.distribute strategy a run names (scalefree.run.cluster reads which, before TensorFlow loads)."""

import re

from ._tensorflow import tf

# A cluster's workers ask after each other this often (seconds); TensorFlow's own default is 30.
HEALTH_INTERVAL = 10.0


def strategy(name, timeout=0.0):
    """The strategy for `name`; built before the network, as TensorFlow requires.

    In a cluster, a worker that is gone or stops answering for `timeout`
    seconds (0: never) ends the run instead of hanging it: TensorFlow's
    health check asks after every worker every HEALTH_INTERVAL seconds, and
    when one fails it three times running, aborts the collective operations
    under way. Not by a timeout on each collective operation: TensorFlow
    keeps a thread alive for the whole timeout of every one, hundreds a
    second, until the process can make no more (seen: 15,000 threads and an
    abort 25 s into a 100-megapixel run).
    """
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        chosen = tf.distribute.MultiWorkerMirroredStrategy()
        extended = chosen.extended
        # Read by the health check's thread at each round (private attributes, set only if present).
        tuning = {"_check_health_interval": HEALTH_INTERVAL, "_check_health_timeout": timeout / 3 if timeout else 86400}
        for attribute, value in tuning.items():
            if hasattr(extended, attribute):
                setattr(extended, attribute, value)
        return chosen
    return tf.distribute.get_strategy()


def lost_worker(error):
    """The name ("worker 1") of the worker a collective operation's error says is down, or None."""
    found = re.search(r"/job:(\w+)/replica:\d+/task:(\d+) is down", str(getattr(error, "message", error)))
    return f"{found[1]} {found[2]}" if found else None


# What a collective operation raises when a worker of the cluster is gone or silent.
LOST = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError, tf.errors.InternalError)
