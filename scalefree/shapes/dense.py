"""Dense ReLU units: the smooth baseline in place of dividers (type relu).

Each unit is relu(w . (x, y) + b), a ramp, not a step: the picture is a
smooth function with no regions, so a relu model has no partition to draw
exactly, no SVG and no page.
"""

import numpy as np

from .base import Units


class DenseUnits(Units):
    type = "relu"
    unit = "relu unit"
    name = "relu units"
    aliases = ("dense",)
    partitions = False
    # The kernel is (2, n), as Keras's Dense layer holds it.
    unit_axes = (1, 0)

    @classmethod
    def array_shapes(cls, n):
        return [(2, n), (n,)]

    def outputs(self, xy, sharpness=None):
        kernel, bias = (np.asarray(a, np.float64) for a in self.arrays)
        return np.maximum(np.asarray(xy, np.float64).reshape(-1, 2) @ kernel + bias, 0.0)
