import numpy as np
import pytest

from scalefree.config import Config
from scalefree.model import partition_weights
from scalefree.render import render
from scalefree.train import Trainer


@pytest.fixture(scope="module")
def trainer():
    from conftest import half_planes_image

    t = Trainer(Config(n_dividers=6, n_hidden=8, seed=0), half_planes_image(48))
    for _ in range(3):
        t.train_epoch()
    return t


def test_render_at_mult_one_is_the_model_on_the_training_pixels(trainer):
    picture = render(trainer.predict, 48, 48)
    want = np.clip(trainer.predict(trainer.coords) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(picture.reshape(-1, 3), want)


def test_double_size_render_is_twice_the_size(trainer):
    assert render(trainer.predict, 48, 48, mult=2).shape == (96, 96, 3)
    assert render(trainer.predict, 48, 48, mult=0.5).shape == (24, 24, 3)


def test_zoomed_out_render_holds_the_original_in_its_middle(trainer):
    base = render(trainer.predict, 48, 48).astype(int)
    wide = render(trainer.predict, 48, 48, mult=2, border=1).astype(int)
    middle = wide[24:72, 24:72]
    # Same function at the same points: equal but for pixels that sit on a
    # divider, where float rounding may pick either side.
    differs = np.abs(middle - base).max(axis=2) > 2
    assert differs.mean() < 0.01


def test_chunking_does_not_change_the_picture(trainer):
    whole = render(trainer.predict, 48, 48, mult=3)
    banded = render(trainer.predict, 48, 48, mult=3, chunk_pixels=1000)
    np.testing.assert_array_equal(whole, banded)


@pytest.fixture(scope="module", params=["linear", "circular"])
def partition_model(request):
    from conftest import discs_image, half_planes_image

    image = half_planes_image(48) if request.param == "linear" else discs_image(48)
    t = Trainer(Config(type=request.param, n_dividers=3, n_hidden=16, seed=0), image)
    for _ in range(60):
        t.train_epoch()
    return (request.param, t, *partition_weights(t.model))


def test_partition_render_matches_the_network_off_the_edges(partition_model):
    from scalefree.render import render_partition

    kind, t, dividers, tail = partition_model
    for mult, border in [(1, 0), (3, 1)]:
        soft = render(t.predict, 48, 48, mult, border).astype(int)
        hard = render_partition(kind, dividers, tail, 48, 48, mult, border).astype(int)
        differs = np.abs(soft - hard).max(axis=2) > 2
        # Only pixels within tanh's blur of an edge may differ.
        assert differs.mean() < 0.02


def test_partition_render_keeps_edges_one_pixel_wide_when_zoomed(partition_model):
    from scalefree.render import render_partition

    kind, t, dividers, tail = partition_model
    big = render_partition(kind, dividers, tail, 48, 48, mult=16)
    colours = np.unique(big.reshape(-1, 3), axis=0)
    # Hard dividers: at most one colour per region, however large the render.
    assert len(colours) <= (7 if kind == "linear" else 8)
    # Along a row, colour changes happen between neighbouring pixels, with
    # no ramp of in-between colours.
    row = big[big.shape[0] // 2].astype(int)
    change = np.flatnonzero(np.abs(np.diff(row, axis=0)).max(axis=1) > 0)
    assert len(change) >= 1 and (np.diff(change) > 1).all()
