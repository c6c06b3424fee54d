"""Pixels <-> plane coordinates.

The training image's pixel centres map to [-1, 1] along its longer side, with
the aspect ratio kept. A view of the same function can be rendered bigger
(`mult` times the pixels) and wider (`1 + border` times the extent, about the
centre), so one pixel of a render at mult 1, border 0 lands exactly where the
training pixel was.
"""

import numpy as np


def output_shape(height, width, mult=1.0):
    """(height, width) of a render `mult` times the training size."""
    return max(1, round(height * mult)), max(1, round(width * mult))


def pixel_pitch(height, width, mult=1.0, border=0.0):
    """The distance in the plane between neighbouring pixel centres of a render."""
    return 2.0 / max(height, width) * (1.0 + border) / mult


def pixel_axes(height, width, mult=1.0, border=0.0):
    """The y and x coordinates of the pixel centres of a render, as two 1-D arrays.

    `height` and `width` are the training image's; the render has
    output_shape(height, width, mult) pixels.
    """
    out_h, out_w = output_shape(height, width, mult)
    pitch = pixel_pitch(height, width, mult, border)
    xs = (np.arange(out_w) + 0.5 - out_w / 2.0) * pitch
    ys = (np.arange(out_h) + 0.5 - out_h / 2.0) * pitch
    return ys.astype(np.float32), xs.astype(np.float32)


def plane_to_pixels(xy, height, width):
    """Plane (x, y) -> pixel coordinates of the training frame (0 at its top-left corner, not at a centre)."""
    scale = max(height, width) / 2.0
    xy = np.asarray(xy)
    return np.stack([xy[..., 0] * scale + width / 2.0, xy[..., 1] * scale + height / 2.0], axis=-1)


def grid(ys, xs):
    """All (x, y) pairs of a grid, row by row, shape (len(ys) * len(xs), 2)."""
    xx, yy = np.meshgrid(xs, ys)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def pixel_coords(height, width):
    """(x, y) of every training pixel, row-major, matching image.reshape(-1, 3)."""
    return grid(*pixel_axes(height, width))
