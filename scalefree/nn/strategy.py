"""The tf.distribute strategy a run names (scalefree.run.cluster reads which, before TensorFlow loads)."""

from ._tensorflow import tf


def strategy(name):
    """The strategy for `name`; built before the network, as TensorFlow requires."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()
