"""Divider geometry: sides of points, row crossings and drawn segments agree with each other."""

import numpy as np
import pytest

from scalefree.coords import grid, pixel_axes, plane_to_pixels
from scalefree.geometry import divider_segments, row_crossings, sides


def random_dividers(kind, n, seed):
    rng = np.random.default_rng(seed)
    second = rng.uniform(0, 2 * np.pi, n) if kind == "linear" else np.log(rng.uniform(0.05, 0.8, n))
    return rng.uniform(-1, 1, (n, 2)), second


@pytest.mark.parametrize("kind", ["linear", "circular"])
def test_row_crossings_give_every_pixel_the_side_it_is_on(kind):
    centers, second = random_dividers(kind, 12, seed=1)
    ys, xs = (a.astype(np.float64) for a in pixel_axes(30, 40))
    start, columns, deltas = row_crossings(kind, centers, second, ys, xs)
    # Replay the flips along each row and compare with the side of each pixel centre.
    cols = np.arange(len(xs))
    replayed = start[:, None, :] + ((columns[:, None, :, :] <= cols[None, :, None, None]) * deltas[:, None, :, :]).sum(
        axis=-1
    )
    expected = sides(kind, (centers, second), grid(ys, xs)).reshape(len(ys), len(xs), -1)
    np.testing.assert_array_equal(replayed, expected)


def test_sides_of_a_line_and_a_circle():
    line = (np.array([[0.0, 0.0]]), np.array([0.0]))  # normal along +x: +1 on the right
    assert sides("linear", line, [[0.5, 0.3], [-0.5, 0.3], [0.0, 9.0]])[:, 0].tolist() == [1, -1, 1]
    circle = (np.array([[0.2, 0.0]]), np.log(np.array([0.5])))  # -1 inside
    assert sides("circular", circle, [[0.2, 0.1], [0.9, 0.0]])[:, 0].tolist() == [-1, 1]
    with pytest.raises(ValueError):
        sides("relu", line, [[0, 0]])


def test_plane_to_pixels_maps_the_frame_to_its_pixels():
    np.testing.assert_allclose(plane_to_pixels(np.array([[0.0, 0.0], [-1.0, -40 / 60]]), 40, 60), [[30, 20], [0, 0]])


def test_divider_segments_stay_in_the_frame():
    centers = np.array([[0.0, 0.0], [0.5, 0.5]], np.float32)
    segs = divider_segments("linear", (centers, np.array([0.0, 1.0], np.float32)), 40, 60)
    assert len(segs) > 0 and segs[:, 0].min() >= 0 and segs[:, 0].max() <= 60
    assert segs[:, 1].min() >= 0 and segs[:, 1].max() <= 40
    # A vertical line through the centre (normal along x) sits at x = width / 2.
    first = divider_segments("linear", (centers[:1], np.array([0.0], np.float32)), 40, 60)
    np.testing.assert_allclose(first[:, 0], 30.0, atol=1e-4)
    circle = divider_segments("circular", (centers[:1], np.log(np.array([0.5], np.float32))), 40, 60)
    np.testing.assert_allclose(np.hypot(circle[:, 0] - 30, circle[:, 1] - 20), 15.0, rtol=1e-3)
