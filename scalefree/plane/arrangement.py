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

    def add_edge(self, start, end, curve, circle=None, angle0=0.0, sweep=0.0):
        self.edges.append(Edge(start, end, curve, circle, angle0, sweep))

    def add_chain(self, curve, vertices):
        """Straight edges between consecutive vertices, given in order along a side."""
        for a, b in zip(vertices, vertices[1:]):
            self.add_edge(a, b, curve)


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


def _border_side(view, x, y):
    """Which side of the view a point on its border lies on."""
    distances = (abs(y - view.top), abs(x - view.right), abs(y - view.bottom), abs(x - view.left))
    return int(np.argmin(distances))


def _graph(curves, view):
    """The planar graph of the curves (each divider as its shape's curve) and the view's border.

    Vertices are where a curve meets the border or another curve inside the
    view; each curve adds its own edges between its vertices in order along
    it (segments for a line, arcs for a circle).
    """
    graph = _Graph()
    on_curve = {curve.index: [] for curve in curves}
    border_crossings = []
    for curve in curves:
        for x, y in curve.border_points(view):
            v = graph.vertex(x, y)
            on_curve[curve.index].append((curve.position(x, y), v))
            side = _border_side(view, x, y)
            border_crossings.append((side, _side_position(view, side, x, y), v))
    for a, first in enumerate(curves):
        for second in curves[a + 1 :]:
            for x, y in first.meet(second):
                if not view.contains(x, y):
                    continue
                v = graph.vertex(x, y)
                on_curve[first.index].append((first.position(x, y), v))
                on_curve[second.index].append((second.position(x, y), v))
    for curve in curves:
        curve.add_edges(graph, on_curve[curve.index], view)
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


def _cell_signs(dividers, curves, twins, edge, points):
    """Every divider's sign inside the face left of `edge`, read at the edge's midpoint.

    The edge's own divider is 0 there, so its sign comes from which side of
    it the face is on; so does the sign of each divider that coincides with it.
    """
    if edge.circle is None:
        (x0, y0), (x1, y1) = points[edge.start], points[edge.end]
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
    else:
        cx, cy, r = edge.circle
        mid = edge.angle0 + edge.sweep / 2
        x, y = cx + r * math.cos(mid), cy + r * math.sin(mid)
    signs = np.concatenate([group.sides([[x, y]])[0] for group in dividers])
    if edge.curve >= 0:
        signs[edge.curve] = curves[edge.curve].left_sign(edge, points)
        for twin, sign in twins.get(edge.curve, ()):
            signs[twin] = sign * signs[edge.curve]
    return signs


def _distinct(curves):
    """The curves without repeats, and for each kept one the (index, relative sign) of its repeats.

    Two dividers can be one curve (placement or training can put them
    there); the graph needs each curve once, and the cells' signs need both.
    """
    kept, twins = [], {}
    for curve in curves:
        for first in kept:
            sign = first.twin(curve)
            if sign:
                twins.setdefault(first.index, []).append((curve.index, sign))
                break
        else:
            kept.append(curve)
    return kept, twins


def curves_of(dividers):
    """Each divider of the groups `dividers` as its shape's curve, numbered across the groups."""
    curves, first = [], 0
    for group in dividers:
        curves += [group.curve(i) for i in range(len(group))]
        for k, curve in enumerate(curves[first:]):
            curve.index = first + k
        first += len(group)
    return curves


def cells(dividers, view):
    """The cells of the hard partition of the groups `dividers` inside `view`, largest first.

    Each cell's boundary is its outer one: a cell can enclose others (a
    circle inside a region that touches nothing else), which is why painting
    them largest first draws the partition exactly.
    """
    curves = curves_of(dividers)
    distinct, twins = _distinct(curves)
    graph = _graph(distinct, view)
    found = []
    for walk in _faces(graph):
        area = _walk_area(walk, graph.points)
        # Negative walks go round a face's outside: the view's border, or a
        # group of circles from the face that holds it.
        if area <= 0:
            continue
        longest = max(walk, key=lambda e: _edge_length(e, graph.points))
        found.append(Cell(walk, area, _cell_signs(dividers, curves, twins, longest, graph.points)))
    found.sort(key=lambda c: -c.area)
    return found, graph.points
