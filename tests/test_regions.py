"""The first picture: placed dividers' regions in their mean colours, before TensorFlow."""

import subprocess
import sys

import numpy as np
from conftest import DISCS, HALF_PLANES, ROOT

from scalefree.plane.coords import pixel_coords
from scalefree.plane.pictures import picture_psnr
from scalefree.plane.regions import region_ids, sketch
from scalefree.shapes import Circles, Lines


def _lines(lines):
    return (Lines([c for c, _ in lines], [t for _, t in lines]),)


def _circles(discs):
    return (Circles.of([c for c, _ in discs], [r for _, r in discs]),)


def test_two_crossing_lines_make_four_regions_and_a_circle_two():
    xy = pixel_coords(32, 32)
    ids, count = region_ids(_lines([((0, 0), 0.0), ((0, 0), np.pi / 2)]), xy)
    assert count == 4
    quadrant = (xy[:, 0] > 0) * 2 + (xy[:, 1] > 0)
    # The same partition, whatever the numbering.
    assert len(set(zip(ids, quadrant))) == 4
    ids, count = region_ids(_circles([((0.1, 0.0), 0.5)]), xy)
    inside = np.hypot(xy[:, 0] - 0.1, xy[:, 1]) < 0.5
    assert count == 2 and len(set(zip(ids, inside))) == 2


def test_the_dividers_a_flat_picture_was_cut_by_draw_it_exactly(half_planes, discs):
    np.testing.assert_array_equal(sketch(half_planes, _lines(HALF_PLANES)), half_planes)
    np.testing.assert_array_equal(sketch(discs, _circles(DISCS)), discs)


def test_each_region_gets_its_mean_colour(half_planes):
    noisy = np.clip(half_planes + np.random.default_rng(0).normal(0, 20, half_planes.shape), 0, 255).astype(np.uint8)
    picture = sketch(noisy, _lines(HALF_PLANES))
    assert picture_psnr(picture, half_planes) > picture_psnr(noisy, half_planes) + 10
    # Fewer dividers: coarser regions, a worse picture, but never worse than one mean colour.
    coarse = sketch(noisy, _lines(HALF_PLANES[:1]))
    flat = np.broadcast_to(noisy.reshape(-1, 3).mean(0).round().astype(np.uint8), noisy.shape)
    assert picture_psnr(flat, noisy) < picture_psnr(coarse, noisy) < picture_psnr(picture, noisy)


def test_placing_and_sketching_need_no_tensorflow():
    code = (
        "import sys, numpy as np; from scalefree.plane.placement import place; "
        "from scalefree.plane.regions import sketch; from scalefree.config import Config; "
        "image = np.random.default_rng(0).integers(0, 255, (24, 32, 3), np.uint8); "
        "c = Config(type='circular', n_dividers=4); sketch(image, place(image, c, 0)); "
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
