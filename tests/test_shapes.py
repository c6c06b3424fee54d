"""The shape modules: each kind of divider answers the protocol's questions consistently."""

import numpy as np
import pytest

from scalefree.plane.arrangement import View, curves_of
from scalefree.plane.coords import grid, pixel_axes, plane_to_pixels
from scalefree.shapes import Circles, DenseUnits, Lines, kind_of


def random_group(kind, n, seed):
    rng = np.random.default_rng(seed)
    second = rng.uniform(0, 2 * np.pi, n) if kind is Lines else np.log(rng.uniform(0.05, 0.8, n))
    return kind(rng.uniform(-1, 1, (n, 2)), second)


@pytest.mark.parametrize("kind", [Lines, Circles])
def test_row_crossings_give_every_pixel_the_side_it_is_on(kind):
    group = random_group(kind, 12, seed=1)
    ys, xs = (a.astype(np.float64) for a in pixel_axes(30, 40))
    start, columns, deltas = group.row_crossings(ys, xs)
    # Replay the flips along each row and compare with the side of each pixel centre.
    cols = np.arange(len(xs))
    replayed = start[:, None, :] + ((columns[:, None, :, :] <= cols[None, :, None, None]) * deltas[:, None, :, :]).sum(
        axis=-1
    )
    expected = group.sides(grid(ys, xs)).reshape(len(ys), len(xs), -1)
    np.testing.assert_array_equal(replayed, expected)


@pytest.mark.parametrize("kind", [Lines, Circles])
def test_the_excitation_is_zero_on_the_divider_and_its_sign_is_the_side(kind):
    group = random_group(kind, 9, seed=2)
    xy = np.random.default_rng(3).uniform(-1, 1, (500, 2))
    e = group.excitation(xy)
    clear = np.abs(e) > 1e-9
    np.testing.assert_array_equal(np.sign(e)[clear], group.sides(xy)[clear])
    # Points on each divider (its curve's crossings with a line through the frame) have E = 0.
    probe = Lines([[0.0, 0.0]], [0.3]).curve(0)
    for i in range(len(group)):
        for x, y in group.curve(i).meet(probe):
            assert abs(group.excitation([[x, y]])[0, i]) < 1e-9


def test_sides_of_a_line_and_a_circle():
    line = Lines([[0.0, 0.0]], [0.0])  # normal along +x: +1 on the right
    assert line.sides([[0.5, 0.3], [-0.5, 0.3], [0.0, 9.0]])[:, 0].tolist() == [1, -1, 1]
    circle = Circles([[0.2, 0.0]], np.log([0.5]))  # -1 inside
    assert circle.sides([[0.2, 0.1], [0.9, 0.0]])[:, 0].tolist() == [-1, 1]
    # The circle's excitation is -1 at its centre and +1 at twice its radius.
    np.testing.assert_allclose(circle.excitation([[0.2, 0.0], [1.2, 0.0]])[:, 0], [-1.0, 1.0], atol=1e-5)


def test_curves_meet_where_both_excitations_vanish():
    # A line, a circle: x = 0.1 meets the unit circle at y = -+sqrt(0.99); two circles meet on their radical line.
    line, circle = Lines([[0.1, 0.0]], [0.0]).curve(0), Circles.of([[0.0, 0.0]], [1.0]).curve(0)
    points = sorted(circle.meet(line))
    np.testing.assert_allclose(points, [(0.1, -np.sqrt(0.99)), (0.1, np.sqrt(0.99))], atol=1e-12)
    assert sorted(line.meet(circle)) == points
    other = Circles.of([[1.0, 0.0]], [1.0]).curve(0)
    np.testing.assert_allclose(sorted(circle.meet(other)), [(0.5, -np.sqrt(0.75)), (0.5, np.sqrt(0.75))], atol=1e-12)
    np.testing.assert_allclose(Lines([[0.0, 0.3]], [np.pi / 2]).curve(0).meet(line), [(0.1, 0.3)], atol=1e-12)


def test_curves_are_numbered_across_groups():
    groups = (random_group(Lines, 3, 0), random_group(Circles, 2, 1))
    curves = curves_of(groups)
    assert [c.index for c in curves] == [0, 1, 2, 3, 4]
    assert [c.closed for c in curves] == [False] * 3 + [True] * 2
    view = View(-1.0, -1.0, 0.01, 200, 200)
    assert all(len(c.border_points(view)) in (0, 2, 4) for c in curves)


def test_plane_to_pixels_maps_the_frame_to_its_pixels():
    np.testing.assert_allclose(plane_to_pixels(np.array([[0.0, 0.0], [-1.0, -40 / 60]]), 40, 60), [[30, 20], [0, 0]])


def test_segments_stay_in_the_frame_and_draw_the_divider():
    lines = Lines([[0.0, 0.0], [0.5, 0.5]], [0.0, 1.0])
    segs = lines.segments(40, 60)
    assert len(segs) > 0 and segs[:, 0].min() >= 0 and segs[:, 0].max() <= 60
    assert segs[:, 1].min() >= 0 and segs[:, 1].max() <= 40
    # A vertical line through the centre (normal along x) sits at x = width / 2.
    np.testing.assert_allclose(lines.take([0]).segments(40, 60)[:, 0], 30.0, atol=1e-4)
    circle = Circles.of([[0.0, 0.0]], [0.5]).segments(40, 60)
    np.testing.assert_allclose(np.hypot(circle[:, 0] - 30, circle[:, 1] - 20), 15.0, rtol=1e-3)


@pytest.mark.parametrize("kind", [Lines, Circles, DenseUnits])
def test_groups_take_replace_and_join_units(kind):
    group = (
        random_group(kind, 5, 0) if kind is not DenseUnits else DenseUnits(np.arange(10.0).reshape(2, 5), np.ones(5))
    )
    assert len(group) == 5 and len(group.take([1, 3])) == 2
    other = group.take([4, 0])
    changed = group.replaced(np.array([1, 3]), other)
    assert changed.take([1, 3]) == other and changed.take([0, 2, 4]) == group.take([0, 2, 4])
    assert kind.joined([group.take([0, 1]), group.take([2, 3, 4])]) == group
    with pytest.raises(ValueError):
        kind(*(np.zeros((3,) * len(s)) for s in kind.array_shapes(2)))


def test_a_kind_is_found_by_its_type_or_its_alias():
    assert kind_of("linear") is Lines and kind_of("lines") is Lines and kind_of("circles") is Circles
    assert kind_of("relu") is DenseUnits and not DenseUnits.partitions
    with pytest.raises(ValueError, match="unknown type"):
        kind_of("hexagons")
