"""The network: (x, y) -> N dividers -> M ReLU colour units -> 3 sigmoid outputs."""


from ._tensorflow import keras
from .layers import CircleLayer, LineLayer

_DIVIDERS = {"linear": LineLayer, "circular": CircleLayer}


def divider_layer(config):
    if config.type == "relu":
        # The smooth baseline: ordinary dense units, no hard regions.
        return keras.layers.Dense(config.n_dividers, activation="relu", name="dividers")
    return _DIVIDERS[config.type](
        config.n_dividers,
        sharpness=config.sharpness,
        grad_sharpness=config.gradient_sharpness,
        name="dividers",
    )


def build_model(config):
    """A Keras model for `config`; build it inside a strategy scope to distribute it."""
    return keras.Sequential(
        [
            keras.Input(shape=(2,)),
            divider_layer(config),
            keras.layers.Dense(config.n_hidden, activation="relu", name="colour_units"),
            keras.layers.Dense(3, activation="sigmoid", name="rgb"),
        ],
        name=f"scalefree_{config.type}",
    )


def build_optimizer(config):
    if config.optimizer == "adam":
        return keras.optimizers.Adam(config.learning_rate)
    if config.optimizer == "adadelta":
        return keras.optimizers.Adadelta(config.learning_rate)
    return keras.optimizers.SGD(config.learning_rate, momentum=0.9)
