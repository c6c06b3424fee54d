"""The Model: one numpy forward pass, and its pictures at any size, by function or by partition."""

import sys

import numpy as np
import pytest
from conftest import ROOT, discs_image, half_planes_image

from scalefree.config import Config
from scalefree.model import ColourLayers, Model
from scalefree.plane.coords import pixel_coords
from scalefree.shapes import Circles, DenseUnits, Lines


@pytest.fixture(scope="module", params=["linear", "circular"])
def trained(request):
    """A model of 3 dividers trained on the picture 3 such dividers cut, and that picture."""
    from scalefree.nn.trainer import Trainer

    image = half_planes_image(48) if request.param == "linear" else discs_image(48)
    t = Trainer(Config(type=request.param, n_dividers=3, n_hidden=16, seed=0), image)
    for _ in range(60):
        t.train_epoch()
    return t.to_model(), image


def test_a_render_at_the_frame_size_is_the_function_at_the_pixel_centres(trained):
    model, image = trained
    soft = model.render(hard=False)
    np.testing.assert_array_equal(
        soft.reshape(-1, 3), np.clip(model.colours(pixel_coords(48, 48)) * 255 + 0.5, 0, 255).astype(np.uint8)
    )
    hard = model.render(hard=True)
    np.testing.assert_array_equal(
        hard.reshape(-1, 3),
        np.clip(model.colours(pixel_coords(48, 48), hard=True) * 255 + 0.5, 0, 255).astype(np.uint8),
    )
    # Trained on the picture its dividers cut, it draws it.
    assert np.abs(hard.astype(int) - image).mean() < 3


def test_render_sizes_follow_scale_and_size(trained):
    model, _ = trained
    assert model.render(scale=2).shape == (96, 96, 3)
    assert model.render(scale=0.5, hard=False).shape == (24, 24, 3)
    assert model.render(size=(30, 40)).shape == (30, 40, 3)


def test_a_zoomed_out_render_holds_the_frame_in_its_middle(trained):
    model, _ = trained
    base = model.render().astype(int)
    wide = model.render(scale=2, border=1).astype(int)
    np.testing.assert_array_equal(wide[24:72, 24:72], base)


def test_the_partition_render_matches_the_function_off_the_edges(trained):
    model, _ = trained
    for scale, border in [(1, 0), (3, 1)]:
        soft = model.render(scale, border, hard=False).astype(int)
        hard = model.render(scale, border, hard=True).astype(int)
        differs = np.abs(soft - hard).max(axis=2) > 2
        # Only pixels within tanh's blur of an edge may differ.
        assert differs.mean() < 0.02


def test_the_partition_keeps_edges_one_pixel_wide_when_zoomed(trained):
    model, _ = trained
    big = model.render(scale=16)
    colours = np.unique(big.reshape(-1, 3), axis=0)
    # Three hard dividers: one colour per region at most, however large the render
    # (three lines make at most 7 regions, three circles at most 8).
    assert len(colours) <= (7 if model.type == "linear" else 8)
    # Along a row, colour changes happen between neighbouring pixels, with no ramp of in-between colours.
    row = big[big.shape[0] // 2].astype(int)
    change = np.flatnonzero(np.abs(np.diff(row, axis=0)).max(axis=1) > 0)
    assert len(change) >= 1 and (np.diff(change) > 1).all()


def test_a_hand_made_model_paints_its_regions():
    # One vertical line through the centre; left of it (side -1) red, right of it (side +1) blue.
    big = 20.0
    w1 = np.array([[-big, big, -big, big]], np.float32)  # units 0, 2 on the left, 1, 3 on the right
    w2 = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 1]], np.float32) * big
    model = Model((Lines([[0.0, 0.0]], [0.0]),), ColourLayers(w1, np.zeros(4), w2, np.full(3, -big / 2)), (10, 20))
    picture = model.render()
    assert (picture[:, :10] == [255, 0, 0]).all() and (picture[:, 10:] == [0, 0, 255]).all()
    assert model.n_dividers == 1 and model.n_colour_units == 4 and model.has_partition and model.type == "linear"
    assert model.psnr(picture) == float("inf")
    svg = model.to_svg()
    assert svg.count("<path") == 2 and "#ff0000" in svg and "#0000ff" in svg


def test_a_relu_model_has_no_partition():
    rng = np.random.default_rng(0)
    model = Model(
        (DenseUnits(rng.normal(size=(2, 5)), rng.normal(size=5)),),
        ColourLayers(rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=(3, 3)), rng.normal(size=3)),
        (8, 8),
    )
    assert not model.has_partition
    np.testing.assert_array_equal(model.render(hard=True), model.render(hard=False))
    with pytest.raises(ValueError, match="no exact partition"):
        model.to_svg()
    with pytest.raises(ValueError, match="no dividers"):
        model.sides([[0, 0]])


def test_a_model_of_lines_and_circles_renders_both_exactly():
    # Two groups in one model: the first layer's units are the lines', then the circles'.
    lines, circles = Lines([[0.0, 0.0]], [0.0]), Circles.of([[0.1, 0.0]], [0.3])
    w1 = np.array([[1.0], [-2.0]], np.float32)  # hidden = side of the line - 2 x side of the circle
    model = Model((lines, circles), ColourLayers(w1, np.full(1, 3.0), np.full((1, 3), 1.0), np.zeros(3)), (32, 32))
    xy = pixel_coords(32, 32)
    side_line = np.where(xy[:, 0] < 0, -1, 1)
    side_circle = np.where(np.hypot(xy[:, 0] - 0.1, xy[:, 1]) < 0.3, -1, 1)
    expected = 1 / (1 + np.exp(-np.maximum(side_line - 2 * side_circle + 3, 0)))
    np.testing.assert_allclose(model.colours(xy, hard=True)[:, 0], expected, atol=1e-12)
    np.testing.assert_array_equal(
        model.render().reshape(-1, 3)[:, 0], np.clip(expected * 255 + 0.5, 0, 255).astype(np.uint8)
    )
    assert model.to_svg().count("<path") == 4  # the circle crosses the line: 4 regions


def test_drawing_a_model_needs_no_tensorflow(tmp_path):
    import subprocess

    code = (
        "import sys, numpy as np, scalefree; "
        "from scalefree.model import Model, ColourLayers; from scalefree.shapes import Lines; "
        "layers = ColourLayers(np.ones((1, 2)), np.zeros(2), np.ones((2, 3)), np.zeros(3)); "
        "m = Model((Lines([[0, 0]], [0.3]),), layers, (20, 30)); "
        "m.render(scale=4, border=3); m.render(hard=False); m.to_svg(); m.to_html(); m.psnr(m.render()); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
