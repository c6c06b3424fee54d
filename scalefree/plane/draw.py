"""Drawing a model at any size: by its function a band of rows at a time, or by its partition.

Both take the view of coords.pixel_axes: `height` and `width` of the frame,
`mult` times as many pixels, `border` widening it about the centre.
"""

import numpy as np

from .coords import grid, pixel_axes
from .pictures import to_uint8

# Values held at once while a function is drawn: (pixels x units) per intermediate array.
CHUNK_VALUES = 1 << 21


def render_function(colours, height, width, mult=1.0, border=0.0, units=1, on_rows=None, rows=None):
    """An (H, W, 3) uint8 picture of `colours`, which maps (n, 2) points (x, y) to (n, 3) RGB in [0, 1].

    Drawn a band of rows at a time, each band with about CHUNK_VALUES / `units` pixels.
    `on_rows(n)` is told as each band of n rows is done. `rows` = (top,
    bottom) draws only those rows of the picture.
    """
    ys, xs = pixel_axes(height, width, mult, border)
    ys = ys[slice(*rows)] if rows else ys
    out = np.empty((len(ys), len(xs), 3), dtype=np.uint8)
    step = max(1, CHUNK_VALUES // max(units, 1) // len(xs))
    for top in range(0, len(ys), step):
        band = ys[top : top + step]
        out[top : top + len(band)] = to_uint8(colours(grid(band, xs))).reshape(len(band), len(xs), 3)
        if on_rows:
            on_rows(len(band))
    return out


def render_partition(
    dividers, colour_layers, height, width, mult=1.0, border=0.0, band_rows=256, on_rows=None, rows=None
):
    """Draw with hard dividers: each region exactly one colour, edges one pixel wide at any zoom.

    `dividers` are groups of dividers (shapes.Dividers), `colour_layers` a
    model.ColourLayers. Along a row a line flips sign once and a circle
    twice, so a row is a few runs of constant divider outputs: the colour
    network runs once a run, not once a pixel, which makes huge renders cheap.
    `rows` = (top, bottom) draws only those rows of the picture.
    """
    w1 = np.asarray(colour_layers.w1, np.float64)
    b1 = np.asarray(colour_layers.b1, np.float64)
    ys, xs = (a.astype(np.float64) for a in pixel_axes(height, width, mult, border))
    ys = ys[slice(*rows)] if rows else ys
    out = np.empty((len(ys), len(xs), 3), dtype=np.uint8)
    for top in range(0, len(ys), band_rows):
        band = ys[top : top + band_rows]
        rows = len(band)
        start, columns, deltas, unit = _crossings(dividers, band, xs)
        columns = np.minimum(columns, len(xs))
        order = np.argsort(columns, axis=1, kind="stable")
        columns = np.take_along_axis(columns, order, axis=1)
        steps = np.take_along_axis(deltas, order, axis=1)[..., None] * w1[unit[order]]
        hidden = np.concatenate([(start @ w1 + b1)[:, None, :], steps], axis=1).cumsum(axis=1)
        colours = colour_layers.paint(hidden)
        edges = np.concatenate([np.zeros((rows, 1), int), columns, np.full((rows, 1), len(xs))], axis=1)
        out[top : top + rows] = np.repeat(colours.reshape(-1, 3), np.diff(edges, axis=1).ravel(), axis=0).reshape(
            rows, len(xs), 3
        )
        if on_rows:
            on_rows(rows)
    return out


def _crossings(dividers, ys, xs):
    """Every group's row crossings side by side: (start (rows, N), columns, deltas (rows, F), unit (F,)).

    F counts the flips of all dividers; unit[f] is the divider (0..N-1 over
    all groups) that flip f belongs to.
    """
    starts, columns, deltas, units = [], [], [], []
    first = 0
    for group in dividers:
        start, column, delta = group.row_crossings(ys, xs)
        rows, n, k = column.shape
        starts.append(start)
        columns.append(column.reshape(rows, n * k))
        deltas.append(delta.reshape(rows, n * k))
        units.append(first + np.repeat(np.arange(n), k))
        first += n
    return (
        np.concatenate(starts, axis=1),
        np.concatenate(columns, axis=1),
        np.concatenate(deltas, axis=1),
        np.concatenate(units),
    )
