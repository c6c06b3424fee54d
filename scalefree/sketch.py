"""The first picture: the placed dividers' regions, each painted its mean colour.

Placing dividers needs only numpy and OpenCV, and so does this picture, so a
new run can show what its dividers cut the image into before TensorFlow has
loaded; training then refines both. It is what the network would draw with
unlimited colour units: a region's mean colour is the best single colour for
it. With M colour units the network may not reach it at first, since it
gives each region its colour through M shared units, not a free one.
"""

import numpy as np

from .coords import pixel_coords
from .geometry import sides

# Pixels whose sides are worked out at once: (pixels x N) signs in memory.
_CHUNK = 1 << 14


def region_ids(kind, dividers, xy):
    """(ids, count): for each point, the index of its region (the pattern of sides it lies on).

    A region is keyed by a 64-bit hash of its pattern (a fixed random odd
    multiplier a divider, summed with wrap-around), so memory does not grow
    with N; two of a few thousand regions sharing a key has odds near 1e-12.
    """
    xy = np.asarray(xy).reshape(-1, 2)
    n = len(dividers[0])
    multipliers = np.random.default_rng(0).integers(1, 2**63, n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    keys = np.empty(len(xy), np.uint64)
    for start in range(0, len(xy), _CHUNK):
        positive = sides(kind, dividers, xy[start : start + _CHUNK]) > 0
        keys[start : start + _CHUNK] = (positive.astype(np.uint64) * multipliers).sum(axis=1, dtype=np.uint64)
    unique, ids = np.unique(keys, return_inverse=True)
    return ids.ravel(), len(unique)


def sketch(image, kind, dividers):
    """The image (uint8, h x w x 3) with each region of `dividers` painted its mean colour."""
    h, w = image.shape[:2]
    ids, count = region_ids(kind, dividers, pixel_coords(h, w))
    pixels = np.asarray(image, np.float64).reshape(-1, 3)
    area = np.bincount(ids, minlength=count)
    means = np.stack([np.bincount(ids, pixels[:, c], minlength=count) for c in range(3)], axis=1) / area[:, None]
    return np.clip(means[ids] + 0.5, 0, 255).astype(np.uint8).reshape(h, w, 3)
