import numpy as np

from scalefree.plane.coords import output_shape, pixel_axes, pixel_coords


def test_longer_side_spans_minus_one_to_one_at_pixel_centres():
    ys, xs = pixel_axes(100, 200)
    assert np.isclose(xs[0], -1 + 1 / 200) and np.isclose(xs[-1], 1 - 1 / 200)
    # Aspect kept: the shorter side has the same pitch, centred on 0.
    assert np.isclose(ys[1] - ys[0], xs[1] - xs[0])
    assert np.isclose(ys[0], -ys[-1]) and np.isclose(ys[-1], 0.5 - 1 / 200)


def test_pixel_coords_are_row_major():
    xy = pixel_coords(3, 4)
    assert xy.shape == (12, 2)
    assert xy[1, 0] > xy[0, 0] and xy[1, 1] == xy[0, 1]  # along a row, x grows
    assert xy[4, 1] > xy[0, 1]  # next row, y grows


def test_multiplier_and_border():
    assert output_shape(30, 40, 2.5) == (75, 100)
    ys, xs = pixel_axes(30, 40, mult=2, border=1)
    base_ys, base_xs = pixel_axes(30, 40)
    # Twice the pixels over twice the extent: the middle is the training grid.
    np.testing.assert_allclose(xs[20:60], base_xs, atol=1e-6)
    np.testing.assert_allclose(ys[15:45], base_ys, atol=1e-6)
