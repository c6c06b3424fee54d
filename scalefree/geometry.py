"""Where dividers are, in numpy: which side of each a point lies on, where
each crosses a row of pixels, and segments that draw them.

A line unit is (centre, angle): its output is the sign of
cos(angle) (x - cx) + sin(angle) (y - cy). A circle unit is (centre, log
radius): +1 outside, -1 inside. A point exactly on a divider counts as +1.
"""

import numpy as np

from .coords import plane_to_pixels


def sides(kind, dividers, xy):
    """(P, N) array of +-1: the side of each of N dividers that each of P points (x, y) lies on."""
    centers, second = (np.asarray(a, np.float64) for a in dividers)
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    x, y = xy[:, :1], xy[:, 1:]
    if kind == "linear":
        e = (x - centers[:, 0]) * np.cos(second) + (y - centers[:, 1]) * np.sin(second)
    elif kind == "circular":
        e = np.hypot(x - centers[:, 0], y - centers[:, 1]) - np.exp(second)
    else:
        raise ValueError(f"{kind} units have no sides")
    return np.where(e < 0, -1.0, 1.0)


def row_crossings(kind, centers, second, ys, xs):
    """For each row and divider: its side left of the row, and the columns where it flips.

    `ys` are the rows' plane y and `xs` the columns' plane x (ascending).

    Returns (start (rows, N) of +-1, columns (rows, N, k), deltas (rows, N, k)
    of +-2), with k = 1 flip per line and 2 per circle; a flip at column c
    applies from column c on, and a flip at len(xs) never shows.
    """
    cx, cy = centers[:, 0], centers[:, 1]
    y = ys[:, None]
    if kind == "linear":
        a, b = np.cos(second), np.sin(second)
        # Sign of a (x - cx) + b (y - cy) along the row, linear in x.
        offset = (y - cy) * b - cx * a
        with np.errstate(divide="ignore", invalid="ignore"):
            root = -offset / a
        after = np.where(a > 0, 1.0, -1.0)
        flat = a == 0
        start = np.where(flat, np.sign(offset) + (offset == 0), -after)
        column = np.searchsorted(xs, np.where(flat, np.inf, root).ravel(), side="right").reshape(root.shape)
        column = np.where(flat, len(xs), column)
        return start, column[..., None], (2 * after * np.ones_like(root))[..., None]
    r = np.exp(second)
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


def divider_segments(kind, weights, height, width):
    """Line segments in image pixel coordinates that draw the dividers.

    `weights` are the divider layer's (centers, angles) or (centers, log_radii)
    in plane coordinates; lines are drawn across the whole frame, circles as
    polygons, and everything is clipped to the frame.
    """
    centers, second = weights

    def to_pixels(xy):
        return plane_to_pixels(xy, height, width)

    if kind == "linear":
        direction = np.stack([-np.sin(second), np.cos(second)], axis=1)
        t = np.linspace(-4, 4, 400)[None, :, None]
        points = to_pixels(centers[:, None, :] + t * direction[:, None, :])
    else:
        angle = np.linspace(0, 2 * np.pi, 129)[None, :]
        r = np.exp(second)[:, None]
        points = to_pixels(np.stack([centers[:, :1] + r * np.cos(angle), centers[:, 1:] + r * np.sin(angle)], axis=-1))
    starts, ends = points[:, :-1].reshape(-1, 2), points[:, 1:].reshape(-1, 2)

    def inside(p):
        return (p[:, 0] >= 0) & (p[:, 0] <= width) & (p[:, 1] >= 0) & (p[:, 1] <= height)

    keep = inside(starts) & inside(ends)
    return np.stack([starts[keep], ends[keep]], axis=1).reshape(-1, 2).astype(np.float32)
