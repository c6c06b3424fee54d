"""Starting dividers on the image's edges instead of at random.

A line that starts along an edge of the picture only has to be fine-tuned; a
random one may never find the edge it should take. Each divider is placed in
turn at an edge pixel, drawn with probability proportional to the edge's
strength, and oriented by the local gradient (lines) or made tangent to the
edge (circles). The pixels that divider already explains are then mostly
taken out of the draw, so the next one goes to another edge.
"""

import cv2
import numpy as np

from .coords import pixel_axes, pixel_coords, pixel_pitch
from .geometry import sides
from .images import shrunk_size

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
    total = weights.sum()
    if total <= 0:
        return int(rng.integers(len(weights)))
    return int(rng.choice(len(weights), p=weights / total))


def _fit_line(xy, strength, center, normal, pitch, rounds=10):
    """Refine a line to the edge pixels along it: weighted total least squares."""
    for _ in range(rounds):
        near = np.abs((xy - center) @ normal) < 2 * pitch
        w = strength[near]
        if w.sum() <= 0:
            break
        pts = xy[near]
        mean = (w[:, None] * pts).sum(0) / w.sum()
        d = pts - mean
        cov = (w[:, None] * d).T @ d
        # The eigenvector of the smallest eigenvalue is across the points.
        fitted = np.linalg.eigh(cov)[1][:, 0]
        fitted = fitted if fitted @ normal >= 0 else -fitted
        settled = fitted @ normal > 1 - 1e-7
        normal = fitted
        # Keep the centre where the edge was found, moved onto the fitted line.
        center = center - ((center - mean) @ normal) * normal
        if settled:
            break
    return center, normal


class _Grid:
    """The training pixels as a grid, so a circle's fit looks only at the pixels near it."""

    def __init__(self, height, width, strength):
        self.ys, self.xs = pixel_axes(height, width)
        self.pitch = pixel_pitch(height, width)
        self.strength = strength.reshape(height, width)

    def _span(self, axis, low, high):
        first = max(0, int(np.floor(low / self.pitch + len(axis) / 2 - 0.5)))
        last = min(len(axis), int(np.ceil(high / self.pitch + len(axis) / 2 - 0.5)) + 1)
        return first, max(first, last)

    def window(self, center, reach):
        """(x, y) and strength of the pixels in the square of half-side `reach` about `center`."""
        c0, c1 = self._span(self.xs, center[0] - reach, center[0] + reach)
        r0, r1 = self._span(self.ys, center[1] - reach, center[1] + reach)
        xx, yy = np.meshgrid(self.xs[c0:c1], self.ys[r0:r1])
        return np.stack([xx.ravel(), yy.ravel()], axis=1), self.strength[r0:r1, c0:c1].ravel()


def _fit_circle(grid, center, radius, rounds=10):
    """Refine a circle to the edge pixels along it (weighted algebraic fit).

    Returns the circle and its mean edge strength along the band, the score
    by which candidate circles are compared.
    """
    pitch = grid.pitch
    score = 0.0
    for _ in range(rounds):
        xy, strength = grid.window(center, radius + 2 * pitch)
        near = np.abs(np.linalg.norm(xy - center, axis=1) - radius) < 2 * pitch
        w = strength[near]
        if near.sum() < 8 or w.sum() <= 0:
            break
        score = float(w.mean())
        pts = xy[near]
        # x^2 + y^2 + D x + E y + F = 0, least squares weighted by edge strength.
        a = np.column_stack([pts, np.ones(len(pts))]) * w[:, None]
        b = -(pts * pts).sum(1) * w
        (d, e, f), *_ = np.linalg.lstsq(a, b, rcond=None)
        new_center = np.array([-d / 2, -e / 2])
        r2 = new_center @ new_center - f
        if not r2 > (2 * pitch) ** 2:
            break
        moved = np.linalg.norm(new_center - center) + abs(np.sqrt(r2) - radius)
        center, radius = new_center, float(np.sqrt(r2))
        if moved < 0.1 * pitch:
            break
    return center, radius, score


def _shrunk_by(image, factor):
    """The image shrunk by `factor` (box-filtered), or as it is when the factor is 1 or less."""
    if factor <= 1:
        return image
    h, w = shrunk_size(*image.shape[:2], factor)
    return cv2.resize(np.ascontiguousarray(image), (w, h), interpolation=cv2.INTER_AREA)


def _shrunk(image, max_pixels):
    h, w = image.shape[:2]
    return _shrunk_by(image, (h * w / max_pixels) ** 0.5)


def edge_dividers(image, n, kind, rng, radius_range=(0.05, 0.6), max_pixels=PLACEMENT_PIXELS, on_placed=None):
    """Initial divider parameters for `kind` 'linear' or 'circular'.

    Returns (centers (n, 2), angles (n,)) for lines or (centers, log_radii)
    for circles, in the coordinates of coords.pixel_coords (the same plane
    at any size of the image). A larger image is looked at shrunk to about
    `max_pixels`, so placing costs the same for any photo.
    `on_placed()` is called after each divider.
    """
    image = _shrunk(image, max_pixels)
    h, w = image.shape[:2]
    xy = pixel_coords(h, w)
    pitch = pixel_pitch(h, w)
    nx, ny, strength = edge_field(image)
    weights = strength.astype(np.float64) ** 2
    grid = _Grid(h, w, strength)
    centers = np.empty((n, 2), np.float32)
    second = np.empty(n, np.float32)
    for k in range(n):
        i = _draw(weights, rng)
        # The tensor gives the normal up to sign: either side may be +1.
        normal = rng.choice([-1.0, 1.0]) * np.array([nx[i], ny[i]])
        if kind == "linear":
            center, normal = _fit_line(xy, strength, xy[i], normal, pitch)
            centers[k] = center
            second[k] = np.arctan2(normal[1], normal[0])
            distance = np.abs((xy - center) @ normal)
        else:
            # Circles tangent to the edge at the pixel, of a few sizes on both
            # sides; each is fitted to the edge and the best supported kept.
            candidates = [
                _fit_circle(grid, xy[i] + side * r * normal, r)
                for r in np.exp(rng.uniform(*np.log(radius_range), size=3))
                for side in (-1.0, 1.0)
            ]
            center, radius, _ = max(candidates, key=lambda c: c[2])
            centers[k] = center
            second[k] = np.log(radius)
            distance = np.abs(np.linalg.norm(xy - center, axis=1) - radius)
        weights[distance < _EXPLAINED_WIDTH * pitch] *= _EXPLAINED_KEEP
        if on_placed:
            on_placed()
    return centers, second


# Residual placement works on a copy with this many pixels on its longer side:
# enough to see where a divider helps, small enough to search everywhere.
RESIDUAL_SIDE = 96
_RESIDUAL_RADII = 10
_RESIDUAL_ANGLES = 90


def _small_float(image, side):
    return np.asarray(_shrunk_by(image, max(image.shape[:2]) / side), np.float32) / 255.0


def _disc(radius):
    r = int(np.ceil(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (xx * xx + yy * yy <= radius * radius).astype(np.float32)


def _best_circle(residual, radii, areas, discs):
    """(row, col, radius in pixels, mean residual inside, gain) of the disc that lowers the squared error most.

    The gain is the drop in summed squared error over the pixels searched.
    """
    best = (-1.0, None)
    for radius, area, disc in zip(radii, areas, discs):
        sums = cv2.filter2D(residual, -1, disc, borderType=cv2.BORDER_CONSTANT)
        score = (sums * sums).sum(axis=2) / np.maximum(area, 1.0)
        i = int(np.argmax(score))
        if score.flat[i] > best[0]:
            row, col = divmod(i, residual.shape[1])
            best = (score.flat[i], (row, col, radius, sums[row, col] / max(area[row, col], 1.0), score.flat[i]))
    return best[1]


def _best_line(residual, xy, angles, pitch):
    """(angle, offset along the normal, mean residual on each side) of the cut that lowers the error most.

    For every direction at once: pixels binned by their distance along the
    normal (bins half a pixel wide), cumulative sums over the bins give the
    residual on either side of every cut.
    """
    flat = residual.reshape(-1, 3)
    normals = np.stack([np.cos(angles), np.sin(angles)]).astype(np.float32)
    reach = float(np.abs(xy).max()) * 1.5
    bins = int(np.ceil(2 * reach / (0.5 * pitch))) + 1
    index = np.clip(((xy @ normals + reach) / (0.5 * pitch)).astype(np.int64), 0, bins - 1)
    index += np.arange(len(angles)) * bins
    size = len(angles) * bins
    count = np.bincount(index.ravel(), minlength=size).reshape(len(angles), bins).cumsum(1)
    sums = (
        np.stack(
            [np.bincount(index.ravel(), np.repeat(flat[:, c], len(angles)), minlength=size) for c in range(3)], axis=-1
        )
        .reshape(len(angles), bins, 3)
        .cumsum(1)
    )
    total, n = sums[:, -1:], count[:, -1:]
    # Offsetting each side by its mean residual lowers the error by S^2 / n on each side.
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(count > 0, (sums * sums).sum(2) / count, 0) + np.where(
            n - count > 0, ((total - sums) ** 2).sum(2) / (n - count), 0
        )
    a, k = np.unravel_index(int(np.argmax(score)), score.shape)
    cut = (k + 1) * 0.5 * pitch - reach
    low = sums[a, k] / max(count[a, k], 1)
    high = (total[a, 0] - sums[a, k]) / max(n[a, 0] - count[a, k], 1)
    # What the cut removes beyond offsetting the whole picture by its mean residual.
    gain = score[a, k] - (total[a, 0] ** 2).sum() / max(n[a, 0], 1)
    return angles[a], cut, low, high, gain


def residual_dividers(image, n, kind, rng, side=RESIDUAL_SIDE, on_placed=None, picture=None, gains=None):
    """Dividers placed one at a time where each lowers the picture's error most.

    The picture starts as the image's mean colour. Each new divider is the
    line or circle, searched over the whole frame, that most reduces the
    squared error when the pixels on each side of it (inside a circle) are
    moved by their mean residual; the picture is then updated that way.
    This is the global search that gradient steps cannot do: they only move
    a divider's boundary locally. Returns what edge_dividers returns.
    `picture` (uint8, the image's shape): start from it instead of the mean colour.
    `gains`, a list, receives each divider's drop in mean squared error.
    """
    img = _small_float(image, side)
    h, w = img.shape[:2]
    xy = pixel_coords(h, w)
    pitch = pixel_pitch(h, w)
    if picture is None:
        approx = np.broadcast_to(img.reshape(-1, 3).mean(0), img.shape).copy()
    else:
        approx = _small_float(picture, side)
    centers = np.empty((n, 2), np.float32)
    second = np.empty(n, np.float32)
    if kind == "circular":
        radii = np.geomspace(1.5, 0.75 * max(h, w), _RESIDUAL_RADII)
        discs = [_disc(r) for r in radii]
        ones = np.ones((h, w), np.float32)
        areas = [cv2.filter2D(ones, -1, d, borderType=cv2.BORDER_CONSTANT) for d in discs]
    # A fresh set of directions for each line, so that lines are not all on one grid of angles.
    for k in range(n):
        residual = img - approx
        if kind == "circular":
            row, col, radius, offset, gain = _best_circle(residual, radii, areas, discs)
            centers[k] = xy[row * w + col]
            second[k] = np.log(radius * pitch)
            inside = (sides(kind, (centers[k : k + 1], second[k : k + 1]), xy)[:, 0] < 0).reshape(h, w)
            approx[inside] += offset
        else:
            angles = (np.arange(_RESIDUAL_ANGLES) + rng.uniform()) * (np.pi / _RESIDUAL_ANGLES)
            angle, cut, low, high, gain = _best_line(residual, xy, angles, pitch)
            normal = np.array([np.cos(angle), np.sin(angle)], np.float32)
            # The centre: the point of the cut nearest the frame's centre.
            centers[k] = cut * normal
            second[k] = angle
            above = (sides(kind, (centers[k : k + 1], second[k : k + 1]), xy)[:, 0] > 0).reshape(h, w)
            approx[above] += high
            approx[~above] += low
        if gains is not None:
            gains.append(gain / (h * w * 3))
        if on_placed:
            on_placed()
    return centers, second


# Residual placement's greedy search finds where the first few dividers pay
# most; past a few dozen, edges place boundaries more precisely (measured).
RESIDUAL_FIRST = 32


def combined_dividers(image, n, kind, rng, on_placed=None):
    """The first RESIDUAL_FIRST dividers where they lower the error most, the rest on the image's edges."""
    first = min(n, RESIDUAL_FIRST)
    c1, s1 = residual_dividers(image, first, kind, rng, on_placed=on_placed)
    if n == first:
        return c1, s1
    c2, s2 = edge_dividers(image, n - first, kind, rng, on_placed=on_placed)
    return np.concatenate([c1, c2]), np.concatenate([s1, s2])


PLACEMENTS = {"edges": edge_dividers, "residual": residual_dividers, "combined": combined_dividers}


def place(image, config, seed, on_placed=None):
    """The starting dividers `config` asks for (its placement, type and N), drawn from `seed`."""
    rng = np.random.default_rng(seed)
    return PLACEMENTS[config.placement](image, config.n_dividers, config.type, rng, on_placed=on_placed)
