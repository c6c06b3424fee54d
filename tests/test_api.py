"""The Python API as a user calls it: fit, render, save, load, export."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run_main
from PIL import Image

import scalefree


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from conftest import half_planes_image

    path = tmp_path_factory.mktemp("api") / "planes.png"
    Image.fromarray(half_planes_image(40)).save(path)
    return path


@pytest.fixture(scope="module")
def fitted(photo):
    seen = []
    model = scalefree.fit(str(photo), dividers=6, shape="lines", colours=8, cycles=4, seed=0, on_cycle=seen.append)
    return model, seen


def test_fit_returns_a_model_of_the_shape_asked_for(fitted, photo):
    model, seen = fitted
    assert isinstance(model, scalefree.Model)
    assert model.type == "linear" and model.n_dividers == 6 and model.n_colour_units == 8 and model.size == (40, 40)
    # on_cycle saw every cycle, the first model's (cycle 0) too, with what the cycle line shows.
    assert [r.cycle for r in seen] == [0, 1, 2, 3, 4]
    assert all(r.psnr > 0 and r.seconds > 0 and r.loss > 0 and r.pixels_per_second > 0 for r in seen)
    assert seen[0].epochs == 0 and all(r.epochs == 1 for r in seen[1:])
    # The model returned is the run's best cycle, and draws what that cycle measured: its partition,
    # as renders draw it (numpy in float64, training in float32: a pixel on an edge may fall either side).
    best = max(r.psnr for r in seen)
    assert model.psnr(photo) == pytest.approx(best, abs=0.05)
    assert model.training.cycle == 4 and len(model.training.history.cycles) == 5


def test_render_is_the_view_the_command_line_draws(fitted, tmp_path, capsys):
    model, _ = fitted
    picture = model.render(scale=4, border=3, hard=True)
    assert picture.shape == (160, 160, 3) and picture.dtype == np.uint8
    path = tmp_path / "m.pkl"
    model.save(path)
    out = tmp_path / "big.png"
    code, _, _ = run_main(capsys, "--just_image", "-m", str(path), "-x", "4", "-b", "3", "--hard", "-o", str(out))
    assert code == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), picture)


def test_a_saved_model_loads_and_goes_on_training(fitted, tmp_path, capsys):
    model, _ = fitted
    path = tmp_path / "m.pkl"
    model.save(path)
    again = scalefree.load(path)
    np.testing.assert_array_equal(again.render(), model.render())
    assert again.training.image_name == "planes.png" and again.training.cycle == 4
    # The command line resumes the file fit saved.
    code, out, _ = run_main(capsys, "-m", str(path), "-c", "1", "--no_display")
    assert code == 0 and "resuming at cycle 4" in out
    # And fit goes on from a loaded model, its cycle count going on.
    seen = []
    more = scalefree.fit(again, cycles=2, on_cycle=seen.append, progress=False)
    assert [r.cycle for r in seen] == [5, 6] and more.training.cycle == 6


def test_fit_takes_pillow_images_and_arrays_and_circles(photo):
    with Image.open(photo) as im:
        from_pil = scalefree.fit(im, dividers=3, shape="circles", colours=4, cycles=1, seed=0, progress=False)
    assert from_pil.type == "circular" and from_pil.n_dividers == 3
    array = np.asarray(Image.open(photo)).astype(np.float32) / 255
    from_array = scalefree.fit(array, dividers=3, shape="circular", colours=4, cycles=1, seed=0, progress=False)
    np.testing.assert_array_equal(from_array.render(), from_pil.render())


def test_on_cycle_can_stop_the_run(photo):
    seen = []
    model = scalefree.fit(
        photo,
        dividers=3,
        colours=4,
        cycles=50,
        seed=0,
        progress=False,
        on_cycle=lambda r: seen.append(r.cycle) or r.cycle == 2,
    )
    assert seen == [0, 1, 2] and model.training.cycle == 2


def test_exports_write_files_and_return_their_text(fitted, tmp_path):
    model, _ = fitted
    svg = model.to_svg(tmp_path / "m.svg", scale=2)
    assert svg.startswith("<?xml") and (tmp_path / "m.svg").read_text() == svg
    html = model.to_html(tmp_path / "m.html")
    assert "<canvas" in html and (tmp_path / "m.html").read_text() == html
    assert model._repr_png_().startswith(b"\x89PNG")  # what a notebook shows


def test_bad_arguments_are_clear_errors(photo):
    with pytest.raises(TypeError, match="does not know: learning_rat"):
        scalefree.fit(photo, learning_rat=0.1)
    with pytest.raises(scalefree.UserError, match="unknown type 'hexagons'"):
        scalefree.fit(photo, shape="hexagons", cycles=1)
    with pytest.raises(scalefree.UserError, match="image not found"):
        scalefree.fit(photo.parent / "missing.png", cycles=1)
    with pytest.raises(scalefree.UserError, match="planes.png: it is not a scalefree checkpoint"):
        scalefree.load(photo)


def test_loading_and_drawing_a_model_never_imports_tensorflow(fitted, tmp_path):
    model, _ = fitted
    path = tmp_path / "m.pkl"
    model.save(path)
    code = (
        "import sys, scalefree; m = scalefree.load(sys.argv[1]); "
        "m.render(scale=4, border=3); m.render(hard=False); m.psnr(m.render()); m.to_svg(); m.to_html(); "
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')); "
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
