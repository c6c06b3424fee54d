"""Rendering the learnt function at any size, a band of rows at a time."""

import numpy as np

from .coords import grid, pixel_axes
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
        band = ys[top:top + rows]
        out[top:top + len(band)] = to_uint8(predict(grid(band, xs))).reshape(len(band), len(xs), 3)
        if on_rows:
            on_rows(len(band))
    return out
