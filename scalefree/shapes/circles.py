"""Circles: each divider says whether a point is inside its circle.

A circle unit has a centre C and a radius r, stored as log r so it stays
positive: E = (|X - C| - r) / r, which is -1 at the centre, 0 on the circle
and grows outside. Inside is -1, outside +1.
"""

import math

import numpy as np

from ..plane.coords import plane_to_pixels
from .base import Dividers, clip_to_frame, offsets

# Circles fitted to an edge try a few radii, as fractions of the frame's half-width.
EDGE_RADII = (0.05, 0.6)
# The residual search tries this many radii, from 1.5 pixels to 3/4 of the longer side.
RESIDUAL_RADII = 10


class Circles(Dividers):
    type = "circular"
    unit = "circle"
    name = "circles"
    aliases = ("circles", "circle")
    # Measured on six photos: for 32 circles the residual search gained 1.1 dB over edges on every photo.
    placement = "combined"
    # Six photos, 20 s: moving the weakest circles gained 0.1-1.5 dB at N = 32 and 128.
    replace_every = 20
    # E is relative to the radius; 20 measured better than 10 with residual placement and moving
    # circles (32 circles +0.08 to +0.38 dB, 128 circles +0.32 to +0.38 dB at 60 s, four photos).
    gradient_sharpness = 20.0
    # Trained on from the fitted first model, 32 circles ended 0.1-0.5 dB below fresh colour units
    # at 60 s on four photos of five (rose, astronaut, retina; seed 1), even from the fit's 300th step.
    trains_from_fit = False

    @property
    def log_radii(self):
        return self.arrays[1]

    @property
    def radii(self):
        return np.exp(np.asarray(self.log_radii, np.float64))

    def excitation(self, xy):
        _, _, dist = offsets(self.centers, xy)
        radii = self.radii
        return (dist - radii) / radii

    def sides(self, xy):
        centers = np.asarray(self.centers, np.float64)
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        e = np.hypot(xy[:, :1] - centers[:, 0], xy[:, 1:] - centers[:, 1]) - self.radii
        return np.where(e < 0, -1.0, 1.0)

    def row_crossings(self, ys, xs):
        centers = np.asarray(self.centers, np.float64)
        cx, cy = centers[:, 0], centers[:, 1]
        y = np.asarray(ys, np.float64)[:, None]
        r = self.radii
        # A row crosses a circle twice, at cx -+ the half chord: -1 from the first, +1 again after the second.
        half2 = r * r - (y - cy) ** 2
        crosses = half2 > 0
        half = np.sqrt(np.where(crosses, half2, 0.0))
        enter = np.searchsorted(xs, (cx - half).ravel(), side="right").reshape(half.shape)
        leave = np.searchsorted(xs, (cx + half).ravel(), side="left").reshape(half.shape)
        enter = np.where(crosses, enter, len(xs))
        leave = np.where(crosses, leave, len(xs))
        start = np.ones_like(half)
        deltas = np.stack([np.full_like(half, -2.0), np.full_like(half, 2.0)], axis=-1)
        return start, np.stack([enter, leave], axis=-1), deltas

    def segments(self, height, width):
        centers, second = self.arrays
        angle = np.linspace(0, 2 * np.pi, 129)[None, :]
        r = np.exp(second)[:, None]
        points = np.stack([centers[:, :1] + r * np.cos(angle), centers[:, 1:] + r * np.sin(angle)], axis=-1)
        return clip_to_frame(plane_to_pixels(points, height, width), width, height)

    def curve(self, i):
        return Circle(i, self.centers[i], math.exp(float(self.log_radii[i])))

    def page_table(self):
        return np.concatenate([self.centers, np.asarray(self.log_radii)[:, None]], axis=1).astype("<f4")

    @classmethod
    def of(cls, centers, radii):
        return cls(np.asarray(centers, np.float32).reshape(-1, 2), np.log(np.ravel(radii)).astype(np.float32))

    @classmethod
    def random(cls, n, rng):
        # Radii from a twentieth of the frame's half-width to all of it, evenly in log r.
        return cls(rng.uniform(-1.0, 1.0, (n, 2)), rng.uniform(np.log(0.05), 0.0, n))

    @classmethod
    def on_edge(cls, field, i, normal, rng, reach):
        # Circles tangent to the edge at the pixel, of a few sizes on both sides;
        # each is fitted to the edge and the best supported kept.
        xy = field.xy
        candidates = [
            _fit_circle(field, xy[i] + side * r * normal, r)
            for r in np.exp(rng.uniform(*np.log(EDGE_RADII), size=3))
            for side in (-1.0, 1.0)
        ]
        center, radius, _ = max(candidates, key=lambda c: c[2])
        index = field.square(center, radius + reach)
        near = np.abs(np.linalg.norm(xy[index] - center, axis=1) - radius) < reach
        return cls.of(center, radius), index[near]

    @classmethod
    def residual_search(cls, field):
        import cv2

        h, w = field.height, field.width
        radii = np.geomspace(1.5, 0.75 * max(h, w), RESIDUAL_RADII)
        discs = [_disc(r) for r in radii]
        ones = np.ones((h, w), np.float32)
        areas = [cv2.filter2D(ones, -1, d, borderType=cv2.BORDER_CONSTANT) for d in discs]

        def search(residual, rng):
            row, col, radius, offset, gain = _best_circle(residual, radii, areas, discs)
            circle = cls(
                field.xy[row * w + col][None].astype(np.float32), np.array([np.log(radius * field.pitch)], np.float32)
            )
            return circle, gain, offset, 0.0

        return search


def _fit_circle(field, center, radius, rounds=10):
    """Refine a circle to the edge pixels along it (weighted algebraic fit).

    Returns the circle and its mean edge strength along the band, the score
    by which candidate circles are compared.
    """
    pitch = field.pitch
    score = 0.0
    for _ in range(rounds):
        xy, strength = field.window(center, radius + 2 * pitch)
        near = np.abs(np.linalg.norm(xy - center, axis=1) - radius) < 2 * pitch
        w = strength[near]
        if near.sum() < 8 or w.sum() <= 0:
            break
        score = float(w.mean())
        pts = xy[near]
        # x^2 + y^2 + D x + E y + F = 0, least squares weighted by edge strength.
        a = np.column_stack([pts, np.ones(len(pts))]) * w[:, None]
        b = -(pts * pts).sum(1) * w
        (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
        new_center = np.array([-d / 2, -e / 2])
        r2 = new_center @ new_center - f
        if not r2 > (2 * pitch) ** 2:
            break
        moved = np.linalg.norm(new_center - center) + abs(np.sqrt(r2) - radius)
        center, radius = new_center, float(np.sqrt(r2))
        if moved < 0.1 * pitch:
            break
    return center, radius, score


def _disc(radius):
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.float32)


def _best_circle(residual, radii, areas, discs):
    """(row, col, radius in pixels, mean residual inside, gain) of the disc that lowers the squared error most.

    A disc filter per radius scores every centre at once. The gain is the
    drop in summed squared error over the pixels searched.
    """
    import cv2

    best = (-1.0, None)
    for radius, area, disc in zip(radii, areas, discs):
        sums = cv2.filter2D(residual, -1, disc, borderType=cv2.BORDER_CONSTANT)
        score = (sums * sums).sum(axis=2) / np.maximum(area, 1.0)
        i = int(np.argmax(score))
        if score.flat[i] > best[0]:
            row, col = divmod(i, residual.shape[1])
            best = (score.flat[i], (row, col, radius, sums[row, col] / max(area[row, col], 1.0), score.flat[i]))
    return best[1]


class Circle:
    """One circle as the exact arrangement sees it: centre and radius."""

    closed = True

    def __init__(self, index, center, radius):
        self.index = index
        self.cx, self.cy = (float(v) for v in center)
        self.r = float(radius)

    def position(self, x, y):
        """The angle at which (x, y) lies, seen from the centre: what sorts the crossings."""
        return math.atan2(y - self.cy, x - self.cx)

    def border_points(self, view):
        """Where the circle crosses the view's four sides (top, right, bottom, left)."""
        points = []
        for fixed, along, value in [(1, 0, view.top), (0, 1, view.right), (1, 0, view.bottom), (0, 1, view.left)]:
            c_fixed, c_along = (self.cx, self.cy)[fixed], (self.cx, self.cy)[along]
            h2 = self.r * self.r - (value - c_fixed) ** 2
            if h2 <= 0:
                continue
            low, high = ((view.left, view.right), (view.top, view.bottom))[along]
            for s in (-1.0, 1.0):
                a = c_along + s * math.sqrt(h2)
                if low < a < high:
                    points.append((a, value) if along == 0 else (value, a))
        return points

    def meet(self, other):
        return other.meet_circle(self)

    def twin(self, other):
        """1 if `other` is this very circle (to float32 precision), else 0."""
        same = isinstance(other, Circle) and math.isclose(other.r, self.r, rel_tol=1e-6)
        return int(same and math.hypot(other.cx - self.cx, other.cy - self.cy) <= 1e-6 * self.r)

    def meet_circle(self, other):
        dx, dy = self.cx - other.cx, self.cy - other.cy
        dist = math.hypot(dx, dy)
        ri, rj = other.r, self.r
        if not abs(ri - rj) < dist < ri + rj:
            return []
        a = (dist * dist + ri * ri - rj * rj) / (2 * dist)
        h = math.sqrt(max(ri * ri - a * a, 0.0))
        bx, by = other.cx + a * dx / dist, other.cy + a * dy / dist
        return [(bx - s * h * dy / dist, by + s * h * dx / dist) for s in (-1.0, 1.0)]

    def meet_line(self, line):
        # Points p = c + t d of the line with |p - centre| = r: t^2 + 2 t (d.(c - o)) + |c - o|^2 - r^2 = 0.
        ox, oy = line.center[0] - self.cx, line.center[1] - self.cy
        (dx, dy) = line.direction
        b = dx * ox + dy * oy
        disc = b * b - (ox * ox + oy * oy - self.r * self.r)
        if disc <= 0:
            return []
        root = math.sqrt(disc)
        return [(line.center[0] + t * dx, line.center[1] + t * dy) for t in (-b - root, -b + root)]

    def add_edges(self, graph, crossings, view):
        """Arcs between consecutive crossings that lie in the view; a circle wholly inside is one loop."""
        if not crossings:
            x, y, r = self.cx, self.cy, self.r
            if (
                view.contains(x + r, y)
                and view.contains(x - r, y)
                and view.contains(x, y + r)
                and view.contains(x, y - r)
            ):
                v = graph.vertex(x + r, y)
                graph.add_edge(v, v, self.index, (x, y, r), 0.0, 2 * math.pi)
            return
        points = sorted(crossings)
        angles = [a for a, _ in points] + [points[0][0] + 2 * math.pi]
        vertices = [v for _, v in points] + [points[0][1]]
        for k in range(len(points)):
            mid = (angles[k] + angles[k + 1]) / 2
            if view.contains(self.cx + self.r * math.cos(mid), self.cy + self.r * math.sin(mid)):
                graph.add_edge(
                    vertices[k],
                    vertices[k + 1],
                    self.index,
                    (self.cx, self.cy, self.r),
                    angles[k],
                    angles[k + 1] - angles[k],
                )

    def left_sign(self, edge, points):
        """This circle's sign in the face on the left of `edge`: counter-clockwise, its inside is on the left."""
        return -1.0 if edge.sweep > 0 else 1.0
