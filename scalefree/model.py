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
        gradient_sharpness=config.effective_gradient_sharpness,
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


def partition_weights(model):
    """(divider weights, colour layers (W1, b1, W2, b2)): what a hard render or SVG needs."""
    colour_units, rgb = (model.get_layer(name).get_weights() for name in ("colour_units", "rgb"))
    return model.get_layer("dividers").get_weights(), colour_units + rgb


def _with_divider_scale(base):
    """`base` (a Keras optimizer class) with the dividers' learning rate scaled.

    The dividers' parameters (where a line or circle is) want smaller steps
    than the colour units': a line that jumps repaints a whole band of
    pixels. The layer named "dividers" gets `divider_scale` x the rate.
    """

    class Scaled(base):
        def __init__(self, learning_rate, divider_scale=1.0, **kwargs):
            super().__init__(learning_rate, **kwargs)
            self.divider_scale = float(divider_scale)
            self._divider_indices = set()

        def build(self, variables):
            super().build(variables)
            self._divider_indices = {i for i, v in enumerate(variables) if "dividers" in v.path.split("/")}

        def update_step(self, gradient, variable, learning_rate):
            # Runs once per variable as the step is traced, so the test is plain Python.
            if self._get_variable_index(variable) in self._divider_indices:
                learning_rate = learning_rate * self.divider_scale
            super().update_step(gradient, variable, learning_rate)

    Scaled.__name__ = base.__name__
    return Scaled


_OPTIMIZERS = {
    "adam": (keras.optimizers.Adam, {}),
    "adadelta": (keras.optimizers.Adadelta, {}),
    "sgd": (keras.optimizers.SGD, {"momentum": 0.9}),
}


def build_optimizer(config):
    """The optimizer for `config`: its learning rate decays as lr / (1 + step / lr_decay_steps)."""
    base, extra = _OPTIMIZERS[config.optimizer]
    rate = config.learning_rate
    if config.lr_decay_steps:
        rate = keras.optimizers.schedules.InverseTimeDecay(rate, config.lr_decay_steps, decay_rate=1.0)
    return _with_divider_scale(base)(rate, divider_scale=config.divider_lr_scale, **extra)
