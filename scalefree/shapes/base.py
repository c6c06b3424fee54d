"""The protocol every kind of first-layer unit implements, and what all of them share.

A group of units of one kind is a value: its arrays, in the order its Keras
layer holds them (`arrays`), and what numpy does with them. Dividers (lines,
circles) cut the plane: each unit is about -1 on one side and +1 on the
other, so everything downstream (drawing, the exact cells, placement, the
page, the window's overlay) asks the group itself. A module per shape holds
all of it; nothing else compares a shape's name.
"""

import numpy as np

# How steep a divider's step is: its output is tanh(SHARPNESS * E), -1 or +1 but
# within a hair of the divider. The Config's default; a model stores its own.
SHARPNESS = 1000.0


class Units:
    """First-layer units of one kind. Subclasses set the class attributes and the array layout."""

    # The word for the kind in options, stored configs and file names ("linear").
    type = ""
    # What the units are called in messages, one and many ("line", "lines").
    unit = ""
    name = ""
    # Other words a user may use for the kind (the Python API says "lines").
    aliases = ()
    # Whether the units cut the plane into regions of one colour each.
    partitions = False
    # Defaults that depend on the kind: where new units start (a key of plane.placement.PLACEMENTS),
    # how often the weakest move (0: never), and the false gradient's steepness. The first tool's
    # false gradient was tanh(5 E); 20 measured better for lines (rose, 128 lines, 60 s: 28.54 dB
    # against 28.23 for 10 and 28.47 for 40).
    placement = "random"
    replace_every = 0
    gradient_sharpness = 20.0
    # Whether training starts from the first model's fitted colour layers, or from fresh ones as
    # Keras starts them (the first model stays the run's first picture and a candidate for its
    # last): whichever measured better at 60 s.
    trains_from_fit = True

    def __init__(self, *arrays):
        # float32, as the network holds them: a model read back from training is the same value.
        self.arrays = tuple(np.asarray(a, np.float32) for a in arrays)
        shapes = [a.shape for a in self.arrays]
        if shapes != self.array_shapes(len(self)):
            raise ValueError(f"{self.name} need arrays of shapes {self.array_shapes(len(self))}, got {shapes}")

    # The axis of each array along which the units lie.
    unit_axes = (0, 0)

    @classmethod
    def array_shapes(cls, n):
        """The shapes of the arrays of n units."""
        raise NotImplementedError

    @classmethod
    def members(cls):
        """The kinds of group a model of this type holds: this kind alone (shapes.Mixed: lines and circles)."""
        return (cls,)

    def __len__(self):
        return self.arrays[0].shape[self.unit_axes[0]]

    def __repr__(self):
        return f"{type(self).__name__}({len(self)})"

    def __eq__(self, other):
        return type(self) is type(other) and all(np.array_equal(a, b) for a, b in zip(self.arrays, other.arrays))

    def outputs(self, xy, sharpness):
        """(P, n) outputs of the units at P points (x, y): what the colour units see."""
        raise NotImplementedError

    def take(self, index):
        """The units at `index`, as a group of this kind."""
        return type(self)(*(np.take(a, index, axis=ax) for a, ax in zip(self.arrays, self.unit_axes)))

    def replaced(self, index, other):
        """A copy with the units at `index` replaced by `other`'s (in order)."""
        arrays = [a.copy() for a in self.arrays]
        for a, b, ax in zip(arrays, other.arrays, self.unit_axes):
            where = [slice(None)] * a.ndim
            where[ax] = index
            a[tuple(where)] = b
        return type(self)(*arrays)

    @classmethod
    def joined(cls, groups):
        """The units of several groups of this kind, one after another."""
        return cls(
            *(np.concatenate(parts, axis=ax) for parts, ax in zip(zip(*(g.arrays for g in groups)), cls.unit_axes))
        )


class Dividers(Units):
    """Units that cut the plane: a line or a circle each, -1 on one side and +1 on the other.

    Their excitation E is a signed measure of where a point lies (0 on the
    divider); the output is tanh(sharpness * E), a hard step at sharpness
    1000 that training steps through with a false gradient (nn.layers).
    """

    partitions = True
    # Plane parameters of each unit: a (n, 2) centre and one number (angle, log radius).
    unit_axes = (0, 0)

    @classmethod
    def array_shapes(cls, n):
        return [(n, 2), (n,)]

    @property
    def centers(self):
        return self.arrays[0]

    def excitation(self, xy):
        """(P, n) excitations E at P points, as the Keras layer computes them."""
        raise NotImplementedError

    def outputs(self, xy, sharpness):
        return np.tanh(sharpness * self.excitation(xy))

    def sides(self, xy):
        """(P, n) of +-1: the side of each divider each point lies on (on a divider counts as +1)."""
        raise NotImplementedError

    def row_crossings(self, ys, xs):
        """For rows at plane heights `ys` over columns at `xs` (ascending): where each divider flips.

        Returns (start (rows, n) of +-1: each divider's side left of the row;
        columns (rows, n, k): where it flips, applying from that column on, and
        len(xs) when it never shows; deltas (rows, n, k) of +-2), k flips a divider.
        """
        raise NotImplementedError

    def segments(self, height, width):
        """(2 s, 2) float32: s segments, in pixels of the frame, that draw the dividers (the window's overlay)."""
        raise NotImplementedError

    def curve(self, i):
        """Divider i as the exact arrangement (plane.arrangement) sees it."""
        raise NotImplementedError

    def page_table(self):
        """What the web page reads for each divider, as (n, k) float32 (formats.page)."""
        raise NotImplementedError

    # Placement (plane.placement): each shape says how one divider is fitted to an edge
    # and how the one that lowers a picture's error most is found.

    @classmethod
    def random(cls, n, rng):
        """n dividers anywhere in the frame, at random (as the first tool started them)."""
        raise NotImplementedError

    @classmethod
    def on_edge(cls, field, i, normal, rng, reach):
        """(the divider fitted to the edge at pixel i, as a group of one; the pixels within `reach` of it).

        `field` is a plane.placement.Field, `normal` the edge's normal there.
        """
        raise NotImplementedError

    @classmethod
    def residual_search(cls, field):
        """A function (residual, rng) -> (a group of one, gain, offset on its -1 side, on its +1 side)."""
        raise NotImplementedError


def clip_to_frame(points, width, height):
    """Segments (start, end pairs, in pixels) of a polyline per divider that lie wholly in the frame."""
    starts, ends = points[:, :-1].reshape(-1, 2), points[:, 1:].reshape(-1, 2)

    def inside(p):
        return (p[:, 0] >= 0) & (p[:, 0] <= width) & (p[:, 1] >= 0) & (p[:, 1] <= height)

    keep = inside(starts) & inside(ends)
    return np.stack([starts[keep], ends[keep]], axis=1).reshape(-1, 2).astype(np.float32)


# Keeps |X - C| away from zero in the excitation, so that a point exactly on
# a centre gives E = 0 (and finite gradients in training) instead of 0/0.
EPS = 1e-12


def offsets(centers, xy):
    """(X - C) as dx, dy, each (P, n), and |X - C| (kept above 0), in float64."""
    centers = np.asarray(centers, np.float64)
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    dx = xy[:, :1] - centers[:, 0]
    dy = xy[:, 1:] - centers[:, 1]
    return dx, dy, np.sqrt(dx * dx + dy * dy + EPS)
