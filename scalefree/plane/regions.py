"""The regions dividers cut a picture into: each region's sides, pixel count and mean colour.

A region is a pattern of sides: two pixels on the same side of every divider
are in one region, and the colour units cannot tell them apart. Painting each
its mean colour is the best any colour units could do with these dividers;
the region table is what the first model's colour layers are fitted to.
"""

from dataclasses import dataclass

import numpy as np

from .coords import pixel_coords
from .pictures import psnr

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


@dataclass
class RegionTable:
    """The regions of a picture: their sides (R, N), pixel counts (R,) and mean colours (R, 3) in [0, 1].

    `within` is the squared error no colour layers can remove (each pixel
    against its region's mean, summed over pixels and channels); `ids` the
    region of every pixel, row by row.
    """

    signs: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    within: float
    ids: np.ndarray

    @property
    def pixels(self):
        return len(self.ids)

    def mse(self, colours):
        """Mean squared error over every pixel and channel of painting each region `colours` (R, 3) in [0, 1]."""
        error = self.within + float((self.counts[:, None] * np.square(colours - self.means)).sum())
        return error / (3 * self.pixels)

    def best_psnr(self):
        """The PSNR of each region painted its mean colour: what these dividers allow at most."""
        return psnr(self.within / (3 * self.pixels))

    def picture(self, height, width):
        """Each region painted its mean colour, as an (h, w, 3) uint8 picture."""
        return np.clip(self.means[self.ids] * 255 + 0.5, 0, 255).astype(np.uint8).reshape(height, width, 3)


def region_table(image, dividers):
    """The region table of `image` (uint8, h x w x 3) cut by the groups `dividers`."""
    h, w = image.shape[:2]
    xy = pixel_coords(h, w)
    ids, count = region_ids(dividers, xy)
    pixels = np.asarray(image, np.float64).reshape(-1, 3) / 255.0
    counts = np.bincount(ids, minlength=count).astype(np.float64)
    sums = np.stack([np.bincount(ids, pixels[:, c], minlength=count) for c in range(3)], axis=1)
    means = sums / counts[:, None]
    within = float(np.square(pixels).sum() - (sums * means).sum())
    # A region's sides, read at one of its pixels (the first, in row order).
    first = np.unique(ids, return_index=True)[1]
    return RegionTable(sides(dividers, xy[first]).astype(np.float32), counts, means, max(within, 0.0), ids)


def sketch(image, dividers):
    """The image (uint8, h x w x 3) with each region of `dividers` painted its mean colour."""
    h, w = image.shape[:2]
    return region_table(image, dividers).picture(h, w)
