"""The Keras network of a Model: (x, y) -> N first-layer units -> M ReLU colour units -> 3 sigmoid outputs.

It is built from a Model (or, for a model not made yet, from a Config with
Keras's own initial weights) and read back into one: the Model is the value,
the network only computes gradients. Build it inside a strategy scope to
distribute it.
"""

import numpy as np

from ..model import ColourLayers, Model
from ._tensorflow import keras, tf
from .layers import LAYERS


class Network:
    """A Keras model with one first layer per group of units, and the colour layers after them."""

    def __init__(self, config, kinds, sizes, dtype=None):
        self.kinds, self.sizes = list(kinds), list(sizes)
        gradient = config.effective_gradient_sharpness
        names = ["dividers"] if len(kinds) == 1 else [f"dividers_{i}" for i in range(len(kinds))]
        self.firsts = [LAYERS[k](n, config.sharpness, gradient, name) for k, n, name in zip(kinds, sizes, names)]
        if dtype is not None:  # float64 checks the formulas against numpy's without float32's rounding
            for layer in self.firsts:
                layer.dtype_policy = keras.DTypePolicy(dtype)
        self.colour_units = keras.layers.Dense(config.n_hidden, activation="relu", name="colour_units", dtype=dtype)
        self.rgb = keras.layers.Dense(3, activation="sigmoid", name="rgb", dtype=dtype)
        inputs = keras.Input(shape=(2,), dtype=dtype)
        outputs = [layer(inputs) for layer in self.firsts]
        first = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="units")(outputs)
        self.keras = keras.Model(inputs, self.rgb(self.colour_units(first)), name=f"scalefree_{config.type}")

    def drawn(self, x):
        """RGB at points `x` of the picture the network's partition draws: each divider unit -1 or +1.

        What renders, SVG and pages show (Model.render), as against the
        network's own function, where tanh(sharpness E) of a circle of a
        large radius changes over several pixels (E = (d - r) / r): a soft
        ramp no drawing of the partition has. Dense units have no partition:
        their function is their picture.
        """
        if not all(kind.partitions for kind in self.kinds):
            return self.keras(x, training=False)
        sides = [layer.sides(x) for layer in self.firsts]
        first = sides[0] if len(sides) == 1 else tf.concat(sides, axis=1)
        return self.rgb(self.colour_units(first))

    @classmethod
    def of(cls, config, model=None, dtype=None, groups=None):
        """The network of `model`, its weights set; without one, of `config` with Keras's initial weights
        (and a first layer of the kinds and sizes of `groups` when given, which a mixed model needs)."""
        if model is None:
            if groups is not None:
                return cls(config, [type(g) for g in groups], [len(g) for g in groups], dtype)
            if len(config.kind.members()) > 1:
                raise ValueError("a mixed network needs its groups: place its dividers first")
            return cls(config, [config.kind], [config.n_dividers], dtype)
        network = cls(config, [type(g) for g in model.dividers], [len(g) for g in model.dividers], dtype)
        network.set(model)
        return network

    @property
    def divider_variables(self):
        """The first layers' variables: they step by the dividers' scaled rate."""
        return [v for layer in self.firsts for v in layer.trainable_variables]

    def set(self, model):
        """Give the network a model's weights (of the same groups and sizes)."""
        for layer, group in zip(self.firsts, model.dividers):
            layer.set_weights(list(group.arrays))
        layers = model.colour_layers
        self.colour_units.set_weights([layers.w1, layers.b1])
        self.rgb.set_weights([layers.w2, layers.b2])

    def set_dividers(self, dividers):
        for layer, group in zip(self.firsts, dividers):
            layer.set_weights(list(group.arrays))

    def model(self, size, sharpness):
        """The network's weights as a Model of frame `size` (its training state is the caller's to add)."""
        groups = tuple(kind(*layer.get_weights()) for kind, layer in zip(self.kinds, self.firsts))
        colour = ColourLayers(*self.colour_units.get_weights(), *self.rgb.get_weights())
        return Model(groups, colour, size, sharpness)

    def unit_slices(self):
        """(variable, unit axis, first unit, units) of every first-layer variable: where each divider's rows are."""
        found, first = [], 0
        for kind, layer, n in zip(self.kinds, self.firsts, self.sizes):
            found += [(v, axis, first, n) for v, axis in zip(layer.trainable_variables, kind.unit_axes)]
            first += n
        return found

    def weights_finite(self):
        return all(np.isfinite(w).all() for w in self.keras.get_weights())


class _Book:
    """Which variables are the dividers', and each variable's slots, by the variable's id."""

    def __init__(self):
        self.dividers, self.indices, self.slots = set(), set(), {}


def _with_divider_scale(base):
    """`base` (a Keras optimizer class) with the dividers' learning rate scaled, and its slots known.

    The dividers' parameters (where a line or circle is) want smaller steps
    than the colour units': a line that jumps repaints a whole band of
    pixels. The variables given as `dividers` get `divider_scale` x the rate.
    Each slot (a moment) is remembered with the variable it belongs to, so
    that rows of it can start afresh (`slots_of`).
    """

    class Scaled(base):
        def __init__(self, learning_rate, divider_scale=1.0, **kwargs):
            super().__init__(learning_rate, **kwargs)
            self.divider_scale = float(divider_scale)
            # Kept in an object Keras does not look into: a list or dict of variables set as an
            # attribute would make them the optimizer's own (saved, restored and zeroed with its state).
            self._book = _Book()

        def scale(self, variables):
            """The variables that step by the scaled rate; call before `build`."""
            self._book.dividers = {id(v) for v in variables}

        def build(self, variables):
            super().build(variables)
            self._book.indices = {self._get_variable_index(v) for v in variables if id(v) in self._book.dividers}

        def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
            slot = super().add_variable_from_reference(reference_variable, name, initializer)
            self._book.slots.setdefault(id(reference_variable), []).append(slot)
            return slot

        def slots_of(self, variable):
            """The optimizer's state held per element of `variable` (moments, accumulators)."""
            return list(self._book.slots.get(id(variable), ()))

        def update_step(self, gradient, variable, learning_rate):
            # Runs once per variable as the step is traced, so the test is plain Python.
            if self._get_variable_index(variable) in self._book.indices:
                learning_rate = learning_rate * self.divider_scale
            super().update_step(gradient, variable, learning_rate)

    Scaled.__name__ = base.__name__
    return Scaled


_OPTIMIZERS = {
    "adam": (keras.optimizers.Adam, {}),
    "adadelta": (keras.optimizers.Adadelta, {}),
    "sgd": (keras.optimizers.SGD, {"momentum": 0.9}),
}


def build_optimizer(config, network):
    """The optimizer for `config`, built for `network`: its rate decays as lr / (1 + step / lr_decay_steps)."""
    base, extra = _OPTIMIZERS[config.optimizer]
    rate = config.learning_rate
    if config.lr_decay_steps:
        rate = keras.optimizers.schedules.InverseTimeDecay(rate, config.lr_decay_steps, decay_rate=1.0)
    optimizer = _with_divider_scale(base)(rate, divider_scale=config.divider_lr_scale, **extra)
    optimizer.scale(network.divider_variables)
    optimizer.build(network.keras.trainable_variables)
    return optimizer
