"""Lines: each divider cuts the plane along a straight line.

A line unit has a centre C and an angle theta. Its excitation is the cosine
of the angle between its normal and the way from C to the point:
E = (X - C) . (cos theta, sin theta) / |X - C|. Its sign is the side of the
line; dividing by |X - C| makes a far point pull on the line as much as a
near one, which is what lets a line swing about its centre in training.
"""

import math

import numpy as np

from ..plane.coords import plane_to_pixels
from .base import Dividers, clip_to_frame, offsets

# Directions searched at once for the line that lowers a picture's error most.
RESIDUAL_ANGLES = 90


class Lines(Dividers):
    type = "linear"
    unit = "line"
    name = "lines"
    aliases = ("lines", "line")
    placement = "edges"
    # Moving lines cost up to 3.6 dB on six photos: a line that jumps repaints a band across the frame.
    replace_every = 0
    # From the fitted first model 128 lines ended 0 to +0.55 dB above fresh colour units at 60 s
    # (rose, retina, ihc; seed 1).
    trains_from_fit = True

    @property
    def angles(self):
        return self.arrays[1]

    def excitation(self, xy):
        dx, dy, dist = offsets(self.centers, xy)
        angles = np.asarray(self.angles, np.float64)
        return (dx * np.cos(angles) + dy * np.sin(angles)) / dist

    def sides(self, xy):
        centers, angles = (np.asarray(a, np.float64) for a in self.arrays)
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        e = (xy[:, :1] - centers[:, 0]) * np.cos(angles) + (xy[:, 1:] - centers[:, 1]) * np.sin(angles)
        return np.where(e < 0, -1.0, 1.0)

    def row_crossings(self, ys, xs):
        centers, second = (np.asarray(a, np.float64) for a in self.arrays)
        cx, cy = centers[:, 0], centers[:, 1]
        y = np.asarray(ys, np.float64)[:, None]
        a, b = np.cos(second), np.sin(second)
        # The sign of a (x - cx) + b (y - cy) along a row is linear in x: one flip, where it is zero.
        offset = (y - cy) * b - cx * a
        with np.errstate(divide="ignore", invalid="ignore"):
            root = -offset / a
        after = np.where(a > 0, 1.0, -1.0)
        flat = a == 0
        start = np.where(flat, np.sign(offset) + (offset == 0), -after)
        column = np.searchsorted(xs, np.where(flat, np.inf, root).ravel(), side="right").reshape(root.shape)
        column = np.where(flat, len(xs), column)
        return start, column[..., None], (2 * after * np.ones_like(root))[..., None]

    def segments(self, height, width):
        centers, second = self.arrays
        direction = np.stack([-np.sin(second), np.cos(second)], axis=1)
        t = np.linspace(-4, 4, 400)[None, :, None]
        return clip_to_frame(
            plane_to_pixels(centers[:, None, :] + t * direction[:, None, :], height, width), width, height
        )

    def curve(self, i):
        return Line(i, self.centers[i], self.angles[i])

    def page_table(self):
        # A line through C at angle theta is the set where cos(theta) x + sin(theta) y = offset:
        # two numbers instead of three.
        centers, second = (np.asarray(a, np.float64) for a in self.arrays)
        offset = centers[:, 0] * np.cos(second) + centers[:, 1] * np.sin(second)
        return np.stack([second, offset], axis=1).astype("<f4")

    @classmethod
    def random(cls, n, rng):
        return cls(rng.uniform(-1.0, 1.0, (n, 2)), rng.uniform(0.0, 2.0 * np.pi, n))

    @classmethod
    def on_edge(cls, field, i, normal, rng, reach):
        center, normal = _fit_line(field, field.xy[i], normal)
        line = cls(center[None], [np.arctan2(normal[1], normal[0])])
        return line, _near(field, center, normal, reach)

    @classmethod
    def residual_search(cls, field):
        def search(residual, rng):
            # A fresh set of directions each time, so that lines are not all on one grid of angles.
            angles = (np.arange(RESIDUAL_ANGLES) + rng.uniform()) * (np.pi / RESIDUAL_ANGLES)
            angle, cut, low, high, gain = _best_line(residual, field.xy, angles, field.pitch)
            normal = np.array([np.cos(angle), np.sin(angle)], np.float32)
            # The centre: the point of the cut nearest the frame's centre.
            return cls(cut * normal[None], np.array([angle], np.float32)), gain, low, high

        return search


def _near(field, center, normal, reach):
    """Flat indices of the pixels closer than `reach` to the line through `center` with `normal`."""
    index = field.band(center, normal, reach)
    xy = field.xy[index]
    return index[np.abs((xy[:, 0] - center[0]) * normal[0] + (xy[:, 1] - center[1]) * normal[1]) < reach]


def _fit_line(field, center, normal, rounds=10):
    """Refine a line to the edge pixels along it: weighted total least squares."""
    for _ in range(rounds):
        near = _near(field, center, normal, 2 * field.pitch)
        w = field.strength[near]
        if w.sum() <= 0:
            break
        pts = field.xy[near]
        mean = (w[:, None] * pts).sum(0) / w.sum()
        d = pts - mean
        cov = (w[:, None] * d).T @ d
        # The eigenvector of the smallest eigenvalue is across the points.
        fitted = np.linalg.eigh(cov)[1][:, 0]
        fitted = fitted if fitted @ normal >= 0 else -fitted
        settled = fitted @ normal > 1 - 1e-7
        normal = fitted
        # Keep the centre where the edge was found, moved onto the fitted line.
        center = center - ((center - mean) @ normal) * normal
        if settled:
            break
    return center, normal


def _best_line(residual, xy, angles, pitch):
    """(angle, offset along the normal, mean residual on each side, gain) of the cut that lowers the error most.

    For every direction at once: pixels binned by their distance along the
    normal (bins half a pixel wide), cumulative sums over the bins give the
    residual on either side of every cut. The gain is the drop in summed
    squared error beyond offsetting the whole picture by its mean residual.
    """
    flat = residual.reshape(-1, 3)
    normals = np.stack([np.cos(angles), np.sin(angles)]).astype(np.float32)
    reach = float(np.abs(xy).max()) * 1.5
    bins = int(np.ceil(2 * reach / (0.5 * pitch))) + 1
    index = np.clip(((xy @ normals + reach) / (0.5 * pitch)).astype(np.int64), 0, bins - 1)
    index += np.arange(len(angles)) * bins
    size = len(angles) * bins
    count = np.bincount(index.ravel(), minlength=size).reshape(len(angles), bins).cumsum(1)
    sums = (
        np.stack(
            [np.bincount(index.ravel(), np.repeat(flat[:, c], len(angles)), minlength=size) for c in range(3)], axis=-1
        )
        .reshape(len(angles), bins, 3)
        .cumsum(1)
    )
    total, n = sums[:, -1:], count[:, -1:]
    # Offsetting each side by its mean residual lowers the error by S^2 / n on each side.
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(count > 0, (sums * sums).sum(2) / count, 0) + np.where(
            n - count > 0, ((total - sums) ** 2).sum(2) / (n - count), 0
        )
    a, k = np.unravel_index(int(np.argmax(score)), score.shape)
    cut = (k + 1) * 0.5 * pitch - reach
    low = sums[a, k] / max(count[a, k], 1)
    high = (total[a, 0] - sums[a, k]) / max(n[a, 0] - count[a, k], 1)
    gain = score[a, k] - (total[a, 0] ** 2).sum() / max(n[a, 0], 1)
    return angles[a], cut, low, high, gain


class Line:
    """One line as the exact arrangement sees it: a point on it, its normal and its direction."""

    closed = False

    def __init__(self, index, center, angle):
        self.index = index
        self.center = np.asarray(center, np.float64)
        self.normal = np.array([math.cos(angle), math.sin(angle)])
        self.direction = np.array([-self.normal[1], self.normal[0]])

    def position(self, x, y):
        """How far along the line (x, y) lies: what sorts its crossings."""
        return float((x - self.center[0]) * self.direction[0] + (y - self.center[1]) * self.direction[1])

    def border_points(self, view):
        """Where the line enters and leaves the view (none if it misses it)."""
        lo, hi = -math.inf, math.inf
        for axis, (low, high) in enumerate([(view.left, view.right), (view.top, view.bottom)]):
            d, p = self.direction[axis], self.center[axis]
            if d == 0:
                if not low < p < high:
                    return []
                continue
            t1, t2 = (low - p) / d, (high - p) / d
            lo, hi = max(lo, min(t1, t2)), min(hi, max(t1, t2))
        if not lo < hi:
            return []
        return [tuple(self.center + t * self.direction) for t in (lo, hi)]

    def meet(self, other):
        return other.meet_line(self)

    def twin(self, other):
        """+1 or -1 if `other` is this very line (the same or the opposite sides), else 0.

        "The same" is within the float32 precision the model stores its angles and centres in.
        """
        if (
            not isinstance(other, Line)
            or abs(other.direction[0] * self.direction[1] - other.direction[1] * self.direction[0]) > 1e-6
        ):
            return 0
        if abs((other.center - self.center) @ self.normal) > 1e-6 * (1 + np.abs(self.center).max()):
            return 0
        return 1 if other.normal @ self.normal > 0 else -1

    def meet_line(self, other):
        det = other.direction[0] * self.direction[1] - other.direction[1] * self.direction[0]
        if det == 0:
            return []
        diff = self.center - other.center
        t = (diff[0] * self.direction[1] - diff[1] * self.direction[0]) / det
        return [tuple(other.center + t * other.direction)]

    def meet_circle(self, circle):
        return circle.meet_line(self)

    def add_edges(self, graph, crossings, view):
        """Straight edges between consecutive crossings (the first and last are on the border)."""
        ordered = [v for _, v in sorted(crossings)]
        for a, b in zip(ordered, ordered[1:]):
            graph.add_edge(a, b, self.index)

    def left_sign(self, edge, points):
        """This line's sign in the face on the left of `edge`, an edge along it."""
        (x0, y0), (x1, y1) = points[edge.start], points[edge.end]
        # Left of the direction (dx, dy) is (-dy, dx).
        return math.copysign(1.0, -(y1 - y0) * self.normal[0] + (x1 - x0) * self.normal[1])
