"""Keras layers for the first layer's units: each divider unit cuts the plane in two.

A unit's excitation E is a signed measure of where (x, y) lies relative to its
line or circle (the formulas, and their numpy twins, are in scalefree.shapes).
Its output is tanh(sharpness * E): with sharpness 1000 that is -1 or +1
almost everywhere, so the next layer cannot tell apart two points in the
same region. The true gradient of so steep a function is zero almost
everywhere, so training uses a false one: the derivative of
tanh(gradient_sharpness * E).

`LAYERS` finds the layer of a kind of unit (a scalefree.shapes class).
"""

import math

from ..shapes import Circles, DenseUnits, Lines
from ..shapes.base import EPS
from ._tensorflow import keras, tf


def sharp_sign(e, sharpness, gradient_sharpness):
    """tanh(sharpness * e) forward, d/de tanh(gradient_sharpness * e) backward."""

    @tf.custom_gradient
    def _sharp(e):
        def grad(upstream):
            t = tf.tanh(gradient_sharpness * e)
            return upstream * gradient_sharpness * (1.0 - t * t)

        return tf.tanh(sharpness * e), grad

    return _sharp(e)


class _DividerLayer(keras.layers.Layer):
    """What line and circle units share: centres, sharpness, the activation."""

    def __init__(self, units, sharpness, gradient_sharpness, **kwargs):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be at least 1, got {units}")
        self.units = int(units)
        self.sharpness = float(sharpness)
        self.gradient_sharpness = float(gradient_sharpness)

    def build(self, input_shape):
        # Centres anywhere in the frame: coordinates span [-1, 1].
        self.centers = self.add_weight(
            name="centers",
            shape=(self.units, 2),
            initializer=keras.initializers.RandomUniform(-1.0, 1.0),
        )

    def _offsets(self, inputs):
        """(X - C) split into dx, dy, each (batch, units), and |X - C|."""
        dx = inputs[:, 0:1] - self.centers[:, 0]
        dy = inputs[:, 1:2] - self.centers[:, 1]
        return dx, dy, tf.sqrt(dx * dx + dy * dy + EPS)

    def excitation(self, inputs):
        raise NotImplementedError

    def call(self, inputs):
        return sharp_sign(self.excitation(inputs), self.sharpness, self.gradient_sharpness)

    def sides(self, inputs):
        """-1 or +1: which side of each unit each point lies on, as the drawn partition has it (Dividers.sides)."""
        e = self.excitation(inputs)
        return tf.where(e < 0, -tf.ones_like(e), tf.ones_like(e))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "sharpness": self.sharpness,
            "gradient_sharpness": self.gradient_sharpness,
        }


@keras.saving.register_keras_serializable(package="scalefree")
class LineLayer(_DividerLayer):
    """Line units: centre (Cx, Cy) and angle theta.

    E = (X - C) . (cos theta, sin theta) / |X - C|, the cosine of the angle
    between the line's normal and the way from its centre to the point.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.angles = self.add_weight(
            name="angles",
            shape=(self.units,),
            initializer=keras.initializers.RandomUniform(0.0, 2.0 * math.pi),
        )

    def excitation(self, inputs):
        dx, dy, dist = self._offsets(inputs)
        return (dx * tf.cos(self.angles) + dy * tf.sin(self.angles)) / dist


@keras.saving.register_keras_serializable(package="scalefree")
class CircleLayer(_DividerLayer):
    """Circle units: centre (Cx, Cy) and radius, stored as log r to keep r > 0.

    E = (|X - C| - r) / r: -1 at the centre, 0 on the circle, growing outside.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self.log_radii = self.add_weight(
            name="log_radii",
            shape=(self.units,),
            initializer=keras.initializers.RandomUniform(math.log(0.05), math.log(1.0)),
        )

    def excitation(self, inputs):
        _, _, dist = self._offsets(inputs)
        radii = tf.exp(self.log_radii)
        return (dist - radii) / radii


def _dense(units, sharpness, gradient_sharpness, name):
    # The smooth baseline: ordinary dense ReLU units, no hard regions.
    return keras.layers.Dense(units, activation="relu", name=name)


# The layer that computes each kind of unit: (units, sharpness, gradient_sharpness, name) -> a Keras layer.
LAYERS = {
    Lines: lambda units, sharpness, gradient, name: LineLayer(units, sharpness, gradient, name=name),
    Circles: lambda units, sharpness, gradient, name: CircleLayer(units, sharpness, gradient, name=name),
    DenseUnits: _dense,
}
