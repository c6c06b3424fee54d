"""Where dividers are, in numpy: which side of each a point lies on.

A line unit is (centre, angle): its output is the sign of
cos(angle) (x - cx) + sin(angle) (y - cy). A circle unit is (centre, log
radius): +1 outside, -1 inside. A point exactly on a divider counts as +1.
"""

import numpy as np


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
