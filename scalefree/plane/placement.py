"""Where new dividers start: on the image's edges, or where each lowers the error most.

A line that starts along an edge of the picture only has to be fine-tuned; a
random one may never find the edge it should take. Edge placement puts each
divider in turn at an edge pixel, drawn with probability proportional to the
edge's strength, and lets its shape fit it to the edge there (shapes:
`on_edge`); the pixels it explains are then mostly taken out of the draw, so
the next one goes to another edge. Residual placement is the global search
that gradient steps cannot do: each divider goes where it lowers the
picture's error most (shapes: `residual_search`).
"""

import cv2
import numpy as np

from .coords import pixel_axes, pixel_coords, pixel_pitch
from .pictures import shrunk_size

# A pixel within this many pixel widths of a placed divider counts as explained.
_EXPLAINED_WIDTH = 1.5
# An explained pixel keeps this share of its weight, so strong edges can still
# get a second divider when there are more dividers than edges.
_EXPLAINED_KEEP = 0.02
# Placement looks at a copy of at most this many pixels: each divider costs a
# pass over them, and the edges that matter to N dividers survive the shrink.
PLACEMENT_PIXELS = 1 << 16


def edge_field(image, sigma=2.0):
    """Per-pixel edge normal (nx, ny) and strength, from the colour structure tensor.

    The tensor sums the outer products of every channel's gradient over a
    Gaussian window, so the normal is steady along an edge even at corners
    and in noise where a single pixel's gradient points anywhere.
    """
    img = np.asarray(image, dtype=np.float32) / 255.0
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3) / 8
    jxx, jxy, jyy = (cv2.GaussianBlur((a * b).sum(axis=2), (0, 0), sigma) for a, b in ((gx, gx), (gx, gy), (gy, gy)))
    # Principal eigenvector of [[jxx, jxy], [jxy, jyy]]: the direction across the edge.
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    strength = np.sqrt((gx * gx + gy * gy).sum(axis=2))
    return np.cos(angle).ravel(), np.sin(angle).ravel(), strength.ravel()


def _draw(weights, rng):
    """An index drawn with probability proportional to `weights` (as rng.choice(p=...) draws it, without its checks)."""
    total = weights.sum()
    if total <= 0:
        return int(rng.integers(len(weights)))
    cdf = np.cumsum(weights / total)
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


class Field:
    """The pixels of the picture placement looks at: their plane coordinates, pitch and edge strength.

    `window` finds the pixels near a point without a pass over all of them.
    """

    def __init__(self, height, width, strength=None):
        self.height, self.width = height, width
        self.xy = pixel_coords(height, width)
        self.pitch = pixel_pitch(height, width)
        self.ys, self.xs = pixel_axes(height, width)
        self.strength = strength
        self._grid = None if strength is None else strength.reshape(height, width)

    def _span(self, axis, low, high):
        first = max(0, int(np.floor(low / self.pitch + len(axis) / 2 - 0.5)))
        last = min(len(axis), int(np.ceil(high / self.pitch + len(axis) / 2 - 0.5)) + 1)
        return first, max(first, last)

    def window(self, center, reach):
        """(x, y) and strength of the pixels in the square of half-side `reach` about `center`."""
        index = self.square(center, reach)
        return self.xy[index], self.strength[index]

    def square(self, center, reach):
        """Flat indices, in row-major order, of the pixels in the square of half-side `reach` about `center`."""
        c0, c1 = self._span(self.xs, center[0] - reach, center[0] + reach)
        r0, r1 = self._span(self.ys, center[1] - reach, center[1] + reach)
        return (np.arange(r0, r1)[:, None] * self.width + np.arange(c0, c1)).ravel()

    def band(self, center, normal, reach):
        """Flat indices, in row-major order, of the pixels within about `reach` of a line (a superset).

        Along the line's longer extent each row (or column) holds a short run
        of such pixels, so a fit that looks only at them never passes over the
        whole picture.
        """
        nx, ny = float(normal[0]), float(normal[1])
        pad = reach + self.pitch
        if abs(ny) >= abs(nx):  # mostly horizontal: a run of rows in each column
            middle = center[1] - (self.xs - center[0]) * nx / ny
            first, last = self._spans(self.ys, middle, pad / abs(ny))
            return _runs(first, last, np.arange(self.width), self.width, by_column=True)
        middle = center[0] - (self.ys - center[1]) * ny / nx
        first, last = self._spans(self.xs, middle, pad / abs(nx))
        return _runs(first, last, np.arange(self.height), self.width, by_column=False)

    def _spans(self, axis, middle, half):
        """For each of many centres, the first and last+1 index of `axis` within `half` of it."""
        first = np.clip(np.floor((middle - half) / self.pitch + len(axis) / 2 - 0.5).astype(np.int64), 0, len(axis))
        last = np.clip(np.ceil((middle + half) / self.pitch + len(axis) / 2 - 0.5).astype(np.int64) + 1, 0, len(axis))
        return first, np.maximum(first, last)


def _runs(first, last, lanes, width, by_column):
    """Flat indices of the runs [first, last) along each lane (a column or a row), sorted."""
    counts = last - first
    if not counts.sum():
        return np.zeros(0, np.int64)
    lane = np.repeat(lanes, counts)
    along = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
    index = along * width + lane if by_column else lane * width + along
    return np.sort(index)


def _shrunk_by(image, factor):
    """The image shrunk by `factor` (box-filtered), or as it is when the factor is 1 or less."""
    if factor <= 1:
        return image
    h, w = shrunk_size(*image.shape[:2], factor)
    return cv2.resize(np.ascontiguousarray(image), (w, h), interpolation=cv2.INTER_AREA)


def shrunk(image, max_pixels):
    """The image shrunk (box-filtered) to at most about `max_pixels`, or as it is."""
    h, w = image.shape[:2]
    return _shrunk_by(image, (h * w / max_pixels) ** 0.5)


def edge_dividers(image, n, kind, rng, max_pixels=PLACEMENT_PIXELS, on_placed=None):
    """n dividers of `kind` (a shapes.Dividers class) on the image's edges, as a group of that kind.

    Their parameters are in the coordinates of coords.pixel_coords (the same
    plane at any size of the image). A larger image is looked at shrunk to
    about `max_pixels`, so placing costs the same for any photo.
    `on_placed()` is called after each divider.
    """
    image = shrunk(image, max_pixels)
    h, w = image.shape[:2]
    nx, ny, strength = edge_field(image)
    field = Field(h, w, strength)
    weights = strength.astype(np.float64) ** 2
    placed = []
    for _ in range(n):
        i = _draw(weights, rng)
        # The tensor gives the normal up to sign: either side may be +1.
        normal = rng.choice([-1.0, 1.0]) * np.array([nx[i], ny[i]])
        divider, explained = kind.on_edge(field, i, normal, rng, _EXPLAINED_WIDTH * field.pitch)
        placed.append(divider)
        weights[explained] *= _EXPLAINED_KEEP
        if on_placed:
            on_placed()
    return _joined(kind, placed)


def _joined(kind, groups):
    """Groups of one divider each as one group; n = 0 gives an empty one."""
    return kind.joined(groups) if groups else kind(*(np.zeros(s, np.float32) for s in kind.array_shapes(0)))


# Residual placement works on a copy with this many pixels on its longer side:
# enough to see where a divider helps, small enough to search everywhere.
RESIDUAL_SIDE = 96


def _small_float(image, side):
    return np.asarray(_shrunk_by(image, max(image.shape[:2]) / side), np.float32) / 255.0


def residual_dividers(image, n, kind, rng, side=RESIDUAL_SIDE, on_placed=None, picture=None, gains=None):
    """n dividers of `kind` placed one at a time where each lowers the picture's error most.

    The picture starts as the image's mean colour. Each new divider is the
    one, searched over the whole frame, that most reduces the squared error
    when the pixels on each side of it are moved by their mean residual; the
    picture is then updated that way. Returns a group of `kind`.
    `picture` (uint8, the image's shape): start from it instead of the mean colour.
    `gains`, a list, receives each divider's drop in mean squared error.
    """
    img = _small_float(image, side)
    h, w = img.shape[:2]
    field = Field(h, w)
    if picture is None:
        approx = np.broadcast_to(img.reshape(-1, 3).mean(0), img.shape).copy()
    else:
        approx = _small_float(picture, side)
    search = kind.residual_search(field)
    placed = []
    for _ in range(n):
        divider, gain, below, above = search(img - approx, rng)
        placed.append(divider)
        positive = (divider.sides(field.xy)[:, 0] > 0).reshape(h, w)
        approx[positive] += above
        approx[~positive] += below
        if gains is not None:
            gains.append(gain / (h * w * 3))
        if on_placed:
            on_placed()
    return _joined(kind, placed)


# Residual placement's greedy search finds where the first few dividers pay
# most; past a few dozen, edges place boundaries more precisely (measured).
RESIDUAL_FIRST = 32


def combined_dividers(image, n, kind, rng, on_placed=None):
    """The first RESIDUAL_FIRST dividers where they lower the error most, the rest on the image's edges."""
    first = min(n, RESIDUAL_FIRST)
    found = residual_dividers(image, first, kind, rng, on_placed=on_placed)
    if n == first:
        return found
    return kind.joined([found, edge_dividers(image, n - first, kind, rng, on_placed=on_placed)])


def random_dividers(image, n, kind, rng, on_placed=None):
    """n dividers of `kind` anywhere in the frame, at random: where the first tool started them."""
    found = kind.random(n, rng)
    for _ in range(n if on_placed else 0):
        on_placed()
    return found


PLACEMENTS = {
    "edges": edge_dividers,
    "residual": residual_dividers,
    "combined": combined_dividers,
    "random": random_dividers,
}


# The shares of lines a mixed model's placement tries. Measured on the tuning photos (first pictures,
# 32/16 and 128/32, shares 0 to 1 by quarters): the best was always one of these three (all circles for
# 32 dividers, all lines for 128 on three photos, half and half for 128 on the star field, +0.5 dB over
# either). Choosing each divider's shape by the error it removes picked circles 90 % of the time and
# ended 0.4-0.8 dB below all lines at 128: a circle removes more error on its own, lines cut more
# regions together.
MIXED_SHARES = (0.0, 0.5, 1.0)
# Colour-fitting steps that rank the candidates (their order settles long before the fit's own 1000).
MIXED_FIT_STEPS = 300


def mixed_dividers(image, n, m, rng, on_placed=None):
    """(groups, share of lines): the candidates of MIXED_SHARES placed, and the one with the best first picture.

    A share s places s n lines on the edges (as lines are placed), then the
    circles where they lower the error left by the lines' regions most (the
    first RESIDUAL_FIRST of them; the rest on edges), so that the circles take
    what the lines do not draw. Each candidate's colour layers of `m` units are
    fitted to its regions on the placement copy; the best picture wins.
    """
    from ..shapes import Circles, Lines
    from .colouring import fit_colour_layers, output
    from .regions import region_table

    small = shrunk(image, PLACEMENT_PIXELS)
    best, counted = None, 0
    for number, share in enumerate(MIXED_SHARES, 1):
        k = round(n * share)
        seed = rng.integers(2**32)
        lines = edge_dividers(image, k, Lines, np.random.default_rng([seed, 0])) if k else None
        if lines is None:
            circles = combined_dividers(image, n, Circles, np.random.default_rng([seed, 1]))
        elif k < n:
            picture = region_table(small, (lines,)).picture(*small.shape[:2])
            first = min(n - k, RESIDUAL_FIRST)
            circles = residual_dividers(image, first, Circles, np.random.default_rng([seed, 1]), picture=picture)
            if n - k > first:
                rest = edge_dividers(image, n - k - first, Circles, np.random.default_rng([seed, 2]))
                circles = Circles.joined([circles, rest])
        groups = tuple(g for g in (lines, circles if k < n else None) if g is not None)
        table = region_table(small, groups)
        w1, b1, w2, b2 = fit_colour_layers(table, m, np.random.default_rng([seed, 3]), steps=MIXED_FIT_STEPS)
        error = table.mse(output(table.signs @ w1 + b1, w2, b2))
        if best is None or error < best[0]:
            best = (error, groups, share)
        # Progress in dividers, as the other placements count it: n in all.
        for _ in range(round(n * number / len(MIXED_SHARES)) - counted if on_placed else 0):
            on_placed()
        counted = round(n * number / len(MIXED_SHARES))
    return best[1], best[2]


def place(image, config, seed, on_placed=None):
    """The starting dividers `config` asks for (its placement, kind and N), drawn from `seed`: a tuple of groups."""
    rng = np.random.default_rng(seed)
    if config.placement == "mixed":
        return mixed_dividers(image, config.n_dividers, config.n_hidden, rng, on_placed=on_placed)[0]
    return (PLACEMENTS[config.placement](image, config.n_dividers, config.kind, rng, on_placed=on_placed),)
