"""The tf.distribute strategy a run names (scalefree.run.cluster reads which, before TensorFlow loads)."""

from ._tensorflow import tf


def strategy(name, timeout=0.0):
    """The strategy for `name`; built before the network, as TensorFlow requires.

    A cluster's collective operations give up after `timeout` seconds (0:
    never), so a worker that stops answering ends the run instead of
    hanging it.
    """
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout or None)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return tf.distribute.get_strategy()


# What a collective operation raises when a worker of the cluster is gone or silent.
LOST = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError, tf.errors.InternalError)
