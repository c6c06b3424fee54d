"""The web page that draws a model: drawn by headless Chromium, compared with the hard render."""

import gzip
import re

import numpy as np
import pytest
from clients import agreement, screenshot
from PIL import Image
from test_svg import flat_mask, psnr, random_model

import scalefree
from scalefree.cli.commands import image_learn as main
from scalefree.formats.modeldata import FIDELITY, model_data, quantised
from scalefree.formats.page import page
from scalefree.model import ColourLayers
from scalefree.plane.coords import grid, pixel_axes

H, W = 60, 80


def write_page(tmp_path, model, script=""):
    html, drawn = page(model, about="test")
    path = tmp_path / f"{model.type}.html"
    path.write_text(html.replace("</body>", f"<script>{script}</script></body>") if script else html)
    return path, drawn


@pytest.mark.parametrize("kind,n", [("linear", 40), ("circular", 24)])
def test_the_page_draws_the_hard_render_at_every_zoom(kind, n, tmp_path):
    model = random_model(kind, n, seed=5, size=(H, W))
    path, held = write_page(tmp_path, model)  # held: the model the page's data file holds
    for mult, border in ((1, 0), (4, 0), (2, 3)):
        hard = held.render(mult, border)
        drawn = screenshot(path, hard.shape[1], hard.shape[0], f"#x={mult}&b={border}")
        psnr_db, off = agreement(drawn, hard)
        assert psnr_db >= 40 and off < 0.01, (mult, border, psnr_db, off)
        exact = model.render(mult, border)
        flat = flat_mask(exact)  # away from edges only the rounded weights move a colour
        assert psnr(drawn[flat], exact[flat]) >= FIDELITY - 2


def test_the_wheel_zooms_about_the_pointer_and_a_drag_moves_the_view(tmp_path):
    model = random_model("linear", 30, seed=6, size=(H, W))
    # At x=1 the picture is W x H: once drawn, zoom in twice about its centre, then drag 10 px right and 6 down.
    events = f"""
      const c = document.getElementById("picture");
      c.addEventListener("load", () => {{
        c.dispatchEvent(new WheelEvent("wheel", {{deltaY: Math.log(0.5) / 0.0015, clientX: {W / 2}, clientY: {H / 2},
                                                   cancelable: true}}));
        c.dispatchEvent(new PointerEvent("pointerdown", {{clientX: 20, clientY: 20, pointerId: 1}}));
        c.dispatchEvent(new PointerEvent("pointermove", {{clientX: 30, clientY: 26, pointerId: 1}}));
        c.dispatchEvent(new PointerEvent("pointerup", {{clientX: 30, clientY: 26, pointerId: 1}}));
      }});
    """
    path, held = write_page(tmp_path, model, events)
    drawn = screenshot(path, W, H, "#x=1")
    # The x2 render, seen through a W x H window about its centre moved 10 px left and 6 up.
    big = held.render(2)
    top, left = H // 2 - 6, W // 2 - 10
    expected = big[top : top + H, left : left + W]
    psnr_db, off = agreement(drawn, expected)
    assert psnr_db >= 40 and off < 0.01, (psnr_db, off)


def test_rounding_the_colour_weights_keeps_the_colours(tmp_path):
    rng = np.random.default_rng(7)
    for kind in ("linear", "circular"):
        model = random_model(kind, 64, seed=int(rng.integers(1000)), m=32, size=(H, W))
        tail = model.colour_layers.arrays
        signs = model.sides(grid(*pixel_axes(H, W)))
        q, scale, drawn = quantised(tail, signs, 31)
        assert np.issubdtype(q.dtype, np.integer) and np.abs(q).max() <= 31
        np.testing.assert_allclose(drawn[0], q * scale)
        exact = model.render()
        # Carrying each rounding error forward beats rounding every weight on its own.
        alone = (np.clip(np.round(tail[0] / scale), -31, 31) * scale,) + tuple(tail[1:])
        carried = psnr(model.replace(colour_layers=ColourLayers(*drawn)).render(), exact)
        assert carried > psnr(model.replace(colour_layers=ColourLayers(*alone)).render(), exact) + 3


def weight_bits(data):
    return data[11 + 3 * data[10] + 5] & 127


def test_weights_that_need_more_bits_get_them_and_are_drawn_right(tmp_path):
    """The precision is chosen per model: the fewest bits whose colours stay within FIDELITY of the exact ones."""
    large = random_model("linear", 40, seed=5, size=(H, W))  # weights as large as random normal ones
    tail = large.colour_layers
    small = large.replace(colour_layers=ColourLayers(tail.w1 * 0.26, tail.b1, tail.w2 * 0.24, tail.b2))
    fewer, more = weight_bits(model_data(small)[0]), weight_bits(model_data(large)[0])
    assert fewer < more
    # Why: the fewer bits cost the large model more than FIDELITY over the frame.
    signs = large.sides(grid(*pixel_axes(H, W)))
    _, _, rounded = quantised(tail.arrays, signs, (1 << (fewer - 1)) - 1)
    assert psnr(large.replace(colour_layers=ColourLayers(*rounded)).render(), large.render()) < FIDELITY
    path, drawn = write_page(tmp_path, large)
    hard = drawn.render(2)
    shot = screenshot(path, hard.shape[1], hard.shape[0], "#x=2&b=0")
    psnr_db, off = agreement(shot, hard)
    assert psnr_db >= 40 and off < 0.01


def test_a_page_of_128_lines_and_32_colour_units_is_a_few_kilobytes():
    model = random_model("linear", 128, seed=8, m=32, size=(256, 256))
    # Colour weights as large as a trained model's (standard deviations 0.26 and 0.24 after 40 s on a photo).
    tail = model.colour_layers
    model = model.replace(colour_layers=ColourLayers(tail.w1 * 0.26, tail.b1, tail.w2 * 0.24, tail.b2))
    html, _ = page(model)
    # 7.8 kB before the data file and the viewer element; primitive's SVG of 512 triangles of one photo: 8.6 kB.
    assert len(gzip.compress(html.encode(), 9)) < 9200
    assert "http" not in re.sub(r"<!doctype html>", "", html, flags=re.I)  # nothing fetched from a network


def test_command_line_writes_the_page_and_says_what_it_costs(trained_models, tmp_path, capsys):
    out = tmp_path / "discs.html"
    assert main(["-j", "-m", str(trained_models["circular"]), "--html", str(out)]) == 0
    said = capsys.readouterr().out
    match = re.search(
        r"wrote the page \(([\d.]+) kB, ([\d.]+) kB gzipped; PSNR ([\d.]+) dB against the photo; "
        r"rounding cost (-?[\d.]+) dB\) to (.+)",
        said,
    )
    assert match and match.group(5) == str(out), said
    assert float(match.group(1)) == pytest.approx(len(out.read_bytes()) / 1e3, abs=0.06)
    # The precision is chosen for bytes against PSNR (modeldata.DB_PER_DOUBLING): a small cost, never a large one.
    assert -0.05 < float(match.group(4)) < 0.5
    shot = screenshot(out, 80, 80, "#x=2")
    code = main(["-j", "-m", str(trained_models["circular"]), "--hard", "-x", "2", "-o", str(tmp_path / "hard.png")])
    assert code == 0
    hard = np.asarray(Image.open(tmp_path / "hard.png"))
    assert agreement(shot, hard)[0] > 20  # the exact model, its colours rounded for the bytes
    # Exactly what the page holds: the model its data file gives back.
    stored = scalefree.load(trained_models["circular"])
    _, held = model_data(stored, photo=stored.training.image)
    psnr_db, off = agreement(shot, held.render(2))
    assert psnr_db >= 40 and off < 0.01


def test_names_from_the_checkpoint_cannot_end_the_script_or_the_title():
    model = random_model("linear", 8, seed=9, size=(H, W))
    html, _ = page(model, about="</script><script>alert(1)</script>", title="<b>&</b>")
    assert html.count("</script>") == 1 and "<script>alert" not in html
    assert "<title>&lt;b&gt;&amp;&lt;/b&gt;</title>" in html


@pytest.mark.parametrize(
    "kind, args, pattern",
    [
        ("circular", ["--html", "x.html"], "use it with --just_image"),
        ("circular", ["-j", "--html", "x.svg"], "should end in .html"),
        ("relu", ["-j", "--html", "x.html"], "relu model has no exact partition"),
    ],
)
def test_bad_page_requests_are_one_line_errors(trained_models, tmp_path, capsys, kind, args, pattern):
    argv = ["-m", str(trained_models[kind])] + [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    assert main(argv) != 0
    assert pattern in capsys.readouterr().err.strip().splitlines()[-1]
    assert not list(tmp_path.iterdir())
