"""The regions dividers cut a picture into, and the first picture: each region painted its mean colour.

A region is a pattern of sides: two pixels on the same side of every divider
are in one region, and the colour units cannot tell them apart. Painting each
its mean colour is the best any colour units could do with these dividers.
"""

import numpy as np

from .coords import pixel_coords

# Pixels whose sides are worked out at once: (pixels x N) signs in memory.
_CHUNK = 1 << 14


def sides(dividers, xy):
    """(P, N) of +-1: the side of every divider of the groups `dividers` each point lies on."""
    return np.concatenate([group.sides(xy) for group in dividers], axis=1)


def region_ids(dividers, xy):
    """(ids, count): for each point, the index of its region (the pattern of sides it lies on).

    A region is keyed by a 64-bit hash of its pattern (a fixed random odd
    multiplier a divider, summed with wrap-around), so memory does not grow
    with N; two of a few thousand regions sharing a key has odds near 1e-12.
    """
    xy = np.asarray(xy).reshape(-1, 2)
    n = sum(len(group) for group in dividers)
    multipliers = np.random.default_rng(0).integers(1, 2**63, n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    keys = np.empty(len(xy), np.uint64)
    for start in range(0, len(xy), _CHUNK):
        positive = sides(dividers, xy[start : start + _CHUNK]) > 0
        keys[start : start + _CHUNK] = (positive.astype(np.uint64) * multipliers).sum(axis=1, dtype=np.uint64)
    unique, ids = np.unique(keys, return_inverse=True)
    return ids.ravel(), len(unique)


def sketch(image, dividers):
    """The image (uint8, h x w x 3) with each region of `dividers` painted its mean colour."""
    h, w = image.shape[:2]
    ids, count = region_ids(dividers, pixel_coords(h, w))
    pixels = np.asarray(image, np.float64).reshape(-1, 3)
    area = np.bincount(ids, minlength=count)
    means = np.stack([np.bincount(ids, pixels[:, c], minlength=count) for c in range(3)], axis=1) / area[:, None]
    return np.clip(means[ids] + 0.5, 0, 255).astype(np.uint8).reshape(h, w, 3)
