"""Colour layers fitted to a region table in numpy: the first model's colours."""

import numpy as np
import pytest
from conftest import HALF_PLANES, half_planes_image

from scalefree.model import ColourLayers, Model
from scalefree.plane.colouring import fit_colour_layers
from scalefree.plane.coords import pixel_coords
from scalefree.plane.pictures import picture_psnr
from scalefree.plane.regions import region_table
from scalefree.shapes import Lines

LINES = (Lines([c for c, _ in HALF_PLANES], [t for _, t in HALF_PLANES]),)


def test_the_colours_of_regions_cut_by_their_own_dividers_are_learnt():
    image = half_planes_image(64)
    table = region_table(image, LINES)
    assert table.best_psnr() == float("inf")  # each region is one flat colour
    layers = fit_colour_layers(table, 8, np.random.default_rng(0), steps=3000)
    model = Model(LINES, ColourLayers(*layers), image.shape[:2])
    # Seven flat regions through 8 ReLU units: the picture, to within a few levels.
    assert picture_psnr(model.render(), image) > 35
    # The error the table reports for the model's colours is the error over every pixel.
    colours = model.colour_layers.colours(model.colour_layers.hidden(table.signs))
    per_pixel = model.colours(pixel_coords(64, 64), hard=True) - image.reshape(-1, 3) / 255.0
    assert table.mse(colours) == pytest.approx(np.mean(np.square(per_pixel)), rel=1e-9)


def test_the_fit_starts_from_a_sum_of_per_side_colours_and_improves_on_it():
    # Three lines cut seven regions whose colours are no sum of one shift per side: the start
    # is better than the mean colour, and the steps do better still.
    image = half_planes_image(64)
    table = region_table(image, LINES)
    mean = np.broadcast_to(image.reshape(-1, 3).mean(axis=0) / 255, table.means.shape)
    fits = [fit_colour_layers(table, 8, np.random.default_rng(0), steps=s) for s in (0, 100, 1000)]
    errors = [table.mse(_colours(table, layers)) for layers in fits]
    assert table.mse(mean) > errors[0] > errors[1] > errors[2]


def test_the_fit_is_the_same_for_the_same_seed():
    table = region_table(half_planes_image(32), LINES)
    one, two = (fit_colour_layers(table, 4, np.random.default_rng(5), steps=200) for _ in range(2))
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def _colours(table, layers):
    layers = ColourLayers(*layers)
    return layers.colours(layers.hidden(table.signs))


def test_a_fit_can_go_on_from_given_layers_and_hold_their_first_weights():
    table = region_table(half_planes_image(64), LINES)
    fitted = fit_colour_layers(table, 8, np.random.default_rng(0), steps=3000)
    # Rounded first weights (as a data file holds them) and the rest knocked off their values.
    w1 = np.round(fitted[0] * 4) / 4
    start = (w1, fitted[1] + 0.3, fitted[2] * 0.5, fitted[3] - 0.5)
    again = fit_colour_layers(table, 8, np.random.default_rng(1), steps=600, rate=0.002, start=start, hold_w1=True)
    np.testing.assert_array_equal(again[0], w1)
    assert table.mse(_colours(table, again)) < table.mse(_colours(table, start)) / 10
    # Without holding, W1 moves as well.
    free = fit_colour_layers(table, 8, np.random.default_rng(1), steps=600, rate=0.002, start=start)
    assert not np.array_equal(free[0], w1)


def test_pictures_black_or_white_in_a_channel_fit_too():
    # Every sigmoid of the red channel saturates at 0 and the blue at 1: no step may fail for it.
    image = half_planes_image(32)
    image[..., 0], image[..., 2] = 0, 255
    table = region_table(image, LINES)
    layers = fit_colour_layers(table, 8, np.random.default_rng(0), steps=400)
    assert all(np.isfinite(a).all() for a in layers)
    model = Model(LINES, ColourLayers(*layers), image.shape[:2])
    picture = model.render()
    assert (picture[..., 0] <= 1).all() and (picture[..., 2] >= 254).all()
    assert picture_psnr(picture, image) > 30


def test_the_refiner_fits_in_another_process_exactly_as_here():
    from scalefree.plane.refine import Refiner

    table = region_table(half_planes_image(64), LINES)
    here = fit_colour_layers(table, 8, np.random.default_rng([5, 0]), steps=400)
    there = Refiner(table, 8, [5, 0], steps=400).result(timeout=120)
    assert there is not None
    for a, b in zip(here, there):
        np.testing.assert_array_equal(a, b)  # a seeded run's model does not depend on where it was fitted
