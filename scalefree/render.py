"""Rendering the learnt function at any size, a band of rows at a time."""

import numpy as np

from .coords import grid, pixel_axes
from .geometry import row_crossings
from .images import to_uint8

# Pixels evaluated per call: bounds memory whatever the render size.
CHUNK_PIXELS = 1 << 20


def render(predict, height, width, mult=1.0, border=0.0, chunk_pixels=CHUNK_PIXELS, on_rows=None):
    """An (H, W, 3) uint8 picture of `predict` over the training frame.

    `predict` maps an (n, 2) float32 array of (x, y) to (n, 3) RGB in [0, 1];
    `height` and `width` are the training image's; `mult` and `border` are as
    in coords.pixel_axes. `on_rows(n)` is told as each band of n rows is done.
    """
    ys, xs = pixel_axes(height, width, mult, border)
    out = np.empty((len(ys), len(xs), 3), dtype=np.uint8)
    rows = max(1, chunk_pixels // len(xs))
    for top in range(0, len(ys), rows):
        band = ys[top : top + rows]
        out[top : top + len(band)] = to_uint8(predict(grid(band, xs))).reshape(len(band), len(xs), 3)
        if on_rows:
            on_rows(len(band))
    return out


def colours(hidden, w2, b2):
    """RGB in [0, 1] from the colour units' pre-activations: ReLU, then the sigmoid output layer."""
    return 1.0 / (1.0 + np.exp(-(np.maximum(hidden, 0.0) @ w2 + b2)))


def paint(hidden, w2, b2):
    """8-bit colours from the colour units' pre-activations (see `colours`)."""
    return to_uint8(colours(hidden, w2, b2))


def render_partition(kind, dividers, colour_layers, height, width, mult=1.0, border=0.0, band_rows=256, on_rows=None):
    """Render with hard dividers: each region gets exactly one colour, edges stay sharp at any zoom.

    Along a row a line flips sign once and a circle twice, so a row is a few
    runs of constant divider outputs. The colour network runs once a run, not
    once a pixel, which is what makes huge renders cheap.

    `dividers` is (centers, angles) or (centers, log_radii); `colour_layers`
    is (W1, b1, W2, b2) of the ReLU colour units and the sigmoid output.
    """
    centers, second = (np.asarray(a, np.float64) for a in dividers)
    w1, b1, w2, b2 = (np.asarray(a, np.float64) for a in colour_layers)
    ys, xs = (a.astype(np.float64) for a in pixel_axes(height, width, mult, border))
    out = np.empty((len(ys), len(xs), 3), dtype=np.uint8)
    for top in range(0, len(ys), band_rows):
        band = ys[top : top + band_rows]
        rows = len(band)
        start, columns, deltas = row_crossings(kind, centers, second, band, xs)
        n = columns.shape[1]
        unit = np.repeat(np.arange(n), columns.shape[2])
        columns = np.minimum(columns.reshape(rows, -1), len(xs))
        order = np.argsort(columns, axis=1, kind="stable")
        columns = np.take_along_axis(columns, order, axis=1)
        steps = np.take_along_axis(deltas.reshape(rows, -1), order, axis=1)[..., None] * w1[unit[order]]
        hidden = np.concatenate([(start @ w1 + b1)[:, None, :], steps], axis=1).cumsum(axis=1)
        colours = paint(hidden, w2, b2)
        edges = np.concatenate([np.zeros((rows, 1), int), columns, np.full((rows, 1), len(xs))], axis=1)
        out[top : top + rows] = np.repeat(colours.reshape(-1, 3), np.diff(edges, axis=1).ravel(), axis=0).reshape(
            rows, len(xs), 3
        )
        if on_rows:
            on_rows(rows)
    return out
