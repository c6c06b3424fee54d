"""The learnt partition as exact vector regions: the arrangement of the dividers.

Hard dividers cut the view into the cells of an arrangement of lines or
circles; every cell is one colour. Cells are found as the faces of the
planar graph whose vertices are the crossings (of dividers with each other
and with the view's border) and whose edges are the pieces of dividers and
border between them. Edges are straight segments or circular arcs, so the
cells are exact at any zoom.
"""

import math
from dataclasses import dataclass

import numpy as np

from .coords import output_shape, pixel_pitch
from .geometry import sides

# Crossings closer than this (in units of the view's size) to the border
# count as outside the view; keeps a crossing from landing on the border.
_INSIDE_MARGIN = 1e-9


@dataclass(frozen=True)
class View:
    """The rectangle a render covers, in plane coordinates, and its size in pixels."""

    left: float
    top: float
    pitch: float
    width_px: int
    height_px: int

    @property
    def right(self):
        return self.left + self.width_px * self.pitch

    @property
    def bottom(self):
        return self.top + self.height_px * self.pitch

    def contains(self, x, y):
        m = _INSIDE_MARGIN * (self.right - self.left)
        return (self.left + m < x) & (x < self.right - m) & (self.top + m < y) & (y < self.bottom - m)


def view_of(height, width, mult=1.0, border=0.0):
    """The view of a render at `mult` x the training size, widened by `border` (as coords.pixel_axes)."""
    out_h, out_w = output_shape(height, width, mult)
    pitch = pixel_pitch(height, width, mult, border)
    return View(-out_w / 2.0 * pitch, -out_h / 2.0 * pitch, pitch, out_w, out_h)


@dataclass
class Edge:
    """A piece of a curve between two vertices, walked from `start` to `end`.

    `curve` is a divider's index, or -1 for the view's border. Arcs carry
    their circle and the signed angle they sweep (positive: counter-clockwise
    in plane coordinates, where y grows downwards as in the picture).
    """

    start: int
    end: int
    curve: int
    circle: tuple = None
    angle0: float = 0.0
    sweep: float = 0.0

    def reversed(self):
        return Edge(self.end, self.start, self.curve, self.circle, self.angle0 + self.sweep, -self.sweep)


@dataclass
class Cell:
    """One region of the partition: its boundary (a closed walk of edges), area and divider signs."""

    edges: list
    area: float
    signs: np.ndarray


class _Graph:
    def __init__(self):
        self.points = []
        self.edges = []

    def vertex(self, x, y):
        self.points.append((float(x), float(y)))
        return len(self.points) - 1

    def add_chain(self, curve, vertices):
        """Straight edges between consecutive vertices, given in order along a line or side."""
        for a, b in zip(vertices, vertices[1:]):
            self.edges.append(Edge(a, b, curve))


def _border(graph, view, crossings):
    """The view's border as four sides, cut at the crossings given as (side, position, vertex)."""
    corners = [
        graph.vertex(view.left, view.top),
        graph.vertex(view.right, view.top),
        graph.vertex(view.right, view.bottom),
        graph.vertex(view.left, view.bottom),
    ]
    for side in range(4):
        on_side = sorted((pos, v) for s, pos, v in crossings if s == side)
        graph.add_chain(-1, [corners[side]] + [v for _, v in on_side] + [corners[(side + 1) % 4]])


def _side_position(view, side, x, y):
    """How far along `side` (0 top, 1 right, 2 bottom, 3 left; each walked from its first corner)."""
    return (x - view.left, y - view.top, view.right - x, view.bottom - y)[side]


def _line_graph(centers, angles, view):
    graph = _Graph()
    normals = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    directions = np.stack([-normals[:, 1], normals[:, 0]], axis=1)
    n = len(centers)
    # Where each line enters and leaves the view: clip its parameter to the rectangle.
    lo = np.full(n, -np.inf)
    hi = np.full(n, np.inf)
    bounds = [(view.left, view.right), (view.top, view.bottom)]
    for axis in range(2):
        d = directions[:, axis]
        p = centers[:, axis]
        low, high = bounds[axis]
        with np.errstate(divide="ignore"):
            t1, t2 = (low - p) / d, (high - p) / d
        flat = d == 0
        inside = (low < p) & (p < high)
        lo = np.where(flat, np.where(inside, lo, np.inf), np.maximum(lo, np.minimum(t1, t2)))
        hi = np.where(flat, np.where(inside, hi, -np.inf), np.minimum(hi, np.maximum(t1, t2)))
    crossing = lo < hi
    on_line = {i: [] for i in np.flatnonzero(crossing)}
    border_crossings = []
    for i in on_line:
        for t in (lo[i], hi[i]):
            x, y = centers[i] + t * directions[i]
            v = graph.vertex(x, y)
            on_line[i].append((t, v))
            side = _border_side(view, x, y)
            border_crossings.append((side, _side_position(view, side, x, y), v))
    lines = sorted(on_line)
    for a_pos, i in enumerate(lines):
        for j in lines[a_pos + 1 :]:
            det = directions[i, 0] * directions[j, 1] - directions[i, 1] * directions[j, 0]
            if det == 0:
                continue
            diff = centers[j] - centers[i]
            ti = (diff[0] * directions[j, 1] - diff[1] * directions[j, 0]) / det
            x, y = centers[i] + ti * directions[i]
            if not view.contains(x, y):
                continue
            tj = float(np.dot(np.array([x, y]) - centers[j], directions[j]))
            v = graph.vertex(x, y)
            on_line[i].append((ti, v))
            on_line[j].append((tj, v))
    for i, points in on_line.items():
        graph.add_chain(i, [v for _, v in sorted(points)])
    _border(graph, view, border_crossings)
    return graph


def _border_side(view, x, y):
    """Which side of the view a point on its border lies on."""
    distances = (abs(y - view.top), abs(x - view.right), abs(y - view.bottom), abs(x - view.left))
    return int(np.argmin(distances))


def _circle_graph(centers, radii, view):
    graph = _Graph()
    n = len(centers)
    on_circle = {i: [] for i in range(n)}
    border_crossings = []
    for i in range(n):
        (cx, cy), r = centers[i], radii[i]
        # Crossings with each side: solve for the other coordinate along the side's line.
        for side, (fixed, along, value) in enumerate(
            [(1, 0, view.top), (0, 1, view.right), (1, 0, view.bottom), (0, 1, view.left)]
        ):
            c_fixed, c_along = (cx, cy)[fixed], (cx, cy)[along]
            h2 = r * r - (value - c_fixed) ** 2
            if h2 <= 0:
                continue
            lo_b, hi_b = ((view.left, view.right), (view.top, view.bottom))[along]
            for s in (-1.0, 1.0):
                a = c_along + s * math.sqrt(h2)
                if not lo_b < a < hi_b:
                    continue
                x, y = (a, value) if along == 0 else (value, a)
                v = graph.vertex(x, y)
                on_circle[i].append((math.atan2(y - cy, x - cx), v))
                border_crossings.append((side, _side_position(view, side, x, y), v))
    for i in range(n):
        for j in range(i + 1, n):
            d = centers[j] - centers[i]
            dist = math.hypot(*d)
            ri, rj = radii[i], radii[j]
            if not abs(ri - rj) < dist < ri + rj:
                continue
            a = (dist * dist + ri * ri - rj * rj) / (2 * dist)
            h = math.sqrt(max(ri * ri - a * a, 0.0))
            base = centers[i] + a * d / dist
            for s in (-1.0, 1.0):
                x, y = base[0] - s * h * d[1] / dist, base[1] + s * h * d[0] / dist
                if not view.contains(x, y):
                    continue
                v = graph.vertex(x, y)
                on_circle[i].append((math.atan2(y - centers[i][1], x - centers[i][0]), v))
                on_circle[j].append((math.atan2(y - centers[j][1], x - centers[j][0]), v))
    for i in range(n):
        (cx, cy), r = centers[i], radii[i]
        points = sorted(on_circle[i])
        if not points:
            # No crossings: the circle is wholly inside the view or misses it.
            if (
                view.contains(cx + r, cy)
                and view.contains(cx - r, cy)
                and view.contains(cx, cy + r)
                and view.contains(cx, cy - r)
            ):
                v = graph.vertex(cx + r, cy)
                graph.edges.append(Edge(v, v, i, (cx, cy, r), 0.0, 2 * math.pi))
            continue
        angles = [a for a, _ in points] + [points[0][0] + 2 * math.pi]
        vertices = [v for _, v in points] + [points[0][1]]
        for k in range(len(points)):
            mid = (angles[k] + angles[k + 1]) / 2
            if view.contains(cx + r * math.cos(mid), cy + r * math.sin(mid)):
                graph.edges.append(
                    Edge(vertices[k], vertices[k + 1], i, (cx, cy, r), angles[k], angles[k + 1] - angles[k])
                )
    _border(graph, view, border_crossings)
    return graph


def _heading(edge, points):
    """Direction (radians, in [-pi, pi]) in which `edge` leaves its start vertex."""
    if edge.circle is None:
        (x0, y0), (x1, y1) = points[edge.start], points[edge.end]
        return math.atan2(y1 - y0, x1 - x0)
    tangent = edge.angle0 + math.copysign(math.pi / 2, edge.sweep)
    return math.atan2(math.sin(tangent), math.cos(tangent))


def _faces(graph):
    """Closed walks of half-edges, each keeping its face on the left (positive angles' side)."""
    half = []
    for e in graph.edges:
        half += [e, e.reversed()]
    outgoing = {}
    for h, e in enumerate(half):
        outgoing.setdefault(e.start, []).append((_heading(e, graph.points), h))
    position = {}
    ring = {}
    for v, items in outgoing.items():
        items.sort()
        ring[v] = [h for _, h in items]
        for k, h in enumerate(ring[v]):
            position[h] = k
    seen = np.zeros(len(half), bool)
    walks = []
    for first in range(len(half)):
        if seen[first]:
            continue
        walk = []
        h = first
        while not seen[h]:
            seen[h] = True
            walk.append(half[h])
            around = ring[half[h].end]
            # Arriving at a vertex, turn to the next edge clockwise from the way back.
            h = around[(position[h ^ 1] - 1) % len(around)]
        walks.append(walk)
    return walks


def _walk_area(walk, points):
    area = 0.0
    for e in walk:
        (x0, y0), (x1, y1) = points[e.start], points[e.end]
        area += (x0 * y1 - x1 * y0) / 2.0
        if e.circle is not None:
            r = e.circle[2]
            area += r * r / 2.0 * (e.sweep - math.sin(e.sweep))
    return area


def _edge_length(e, points):
    if e.circle is not None:
        return e.circle[2] * abs(e.sweep)
    (x0, y0), (x1, y1) = points[e.start], points[e.end]
    return math.hypot(x1 - x0, y1 - y0)


def _cell_signs(kind, centers, second, edge, points):
    """Every divider's sign inside the face left of `edge`, read at the edge's midpoint.

    The edge's own divider is 0 there, so its sign comes from which side the face is on.
    """
    if edge.circle is None:
        (x0, y0), (x1, y1) = points[edge.start], points[edge.end]
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
    else:
        cx, cy, r = edge.circle
        mid = edge.angle0 + edge.sweep / 2
        x, y = cx + r * math.cos(mid), cy + r * math.sin(mid)
    signs = sides(kind, (centers, second), [[x, y]])[0]
    i = edge.curve
    if i >= 0:
        if kind == "linear":
            (x0, y0), (x1, y1) = points[edge.start], points[edge.end]
            # Left of the direction (dx, dy) is (-dy, dx).
            signs[i] = math.copysign(1.0, -(y1 - y0) * math.cos(second[i]) + (x1 - x0) * math.sin(second[i]))
        else:
            # Counter-clockwise round a circle its inside is on the left.
            signs[i] = -1.0 if edge.sweep > 0 else 1.0
    return signs


def cells(kind, dividers, view):
    """The cells of the hard partition inside `view`, largest first.

    `dividers` is (centers, angles) for lines or (centers, log_radii) for
    circles. Each cell's boundary is its outer one: a cell can enclose
    others (a circle inside a region that touches nothing else), which is
    why painting them largest first draws the partition exactly.
    """
    centers, second = (np.asarray(a, np.float64) for a in dividers)
    if kind == "linear":
        graph = _line_graph(centers, second, view)
    elif kind == "circular":
        graph = _circle_graph(centers, np.exp(second), view)
    else:
        raise ValueError(f"{kind} units have no exact partition")
    found = []
    for walk in _faces(graph):
        area = _walk_area(walk, graph.points)
        # Negative walks go round a face's outside: the view's border, or a
        # group of circles from the face that holds it.
        if area <= 0:
            continue
        longest = max(walk, key=lambda e: _edge_length(e, graph.points))
        found.append(Cell(walk, area, _cell_signs(kind, centers, second, longest, graph.points)))
    found.sort(key=lambda c: -c.area)
    return found, graph.points
