"""The model data file (.sfm) and the web viewer that draws it, <scalefree-image>: in Chromium, as a site serves it."""

import gzip
import re
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest
from clients import agreement, need, page_text, screenshot, served
from test_svg import random_model

import scalefree
from scalefree.cli.commands import image_learn as main
from scalefree.formats.modeldata import FIDELITY, MAGIC, ModelDataError, decode, model_data
from scalefree.formats.page import page, viewer_path
from scalefree.model import ColourLayers, Model
from scalefree.plane.pictures import picture_psnr

H, W = 60, 80


def trained_like(model):
    # Colour weights as large as a trained model's (standard deviations 0.26 and 0.24 after 40 s on a photo).
    t = model.colour_layers
    return model.replace(colour_layers=ColourLayers(t.w1 * 0.26, t.b1, t.w2 * 0.24, t.b2))


def mixed_model(seed=3, size=(H, W)):
    """Lines and circles in one model: the file and the viewer hold groups of either kind."""
    lines, circles = random_model("linear", 20, seed, m=12, size=size), random_model("circular", 12, seed + 1, m=12)
    w1 = np.concatenate([lines.colour_layers.w1, circles.colour_layers.w1])
    tail = lines.colour_layers
    return Model(lines.dividers + circles.dividers, ColourLayers(w1, tail.b1, tail.w2, tail.b2), size)


MODELS = {
    "lines": lambda: random_model("linear", 40, seed=5, size=(H, W)),
    "lines, W1 as bytes": lambda: random_model("linear", 40, seed=8, size=(H, W)),
    "circles": lambda: random_model("circular", 24, seed=6, size=(H, W)),
    "mixed": mixed_model,
}


def data_of(name, model):
    """A model's data file, its W1 forced to bytes for the model named so (the encoder picks the smaller)."""
    return model_data(model, precision=(8, 4, False)) if "bytes" in name else model_data(model)


@pytest.mark.parametrize("name", MODELS)
def test_the_file_holds_the_model_to_a_fraction_of_a_pixel_and_its_colours_to_fidelity(name):
    model = MODELS[name]()
    data, held = data_of(name, model)
    assert bool(data[11 + 3 * data[10] + 5] & 128) != ("bytes" in name)
    assert data[:4] == MAGIC
    again = decode(data)
    np.testing.assert_array_equal(again.render(2), held.render(2))
    # Edges move by at most a sixteenth of a frame pixel (at x4, a quarter): a pixel whose colour changes
    # lies next to an edge and takes the colour of a neighbour.
    moved = model.replace(dividers=held.dividers)
    psnr_db, off = agreement(moved.render(4, 1), model.render(4, 1))
    assert off < 0.0002, off
    # The colours: the file's colour layers against the exact ones, on the same sides, at 4x and beyond the frame.
    assert picture_psnr(held.render(4, 1), moved.render(4, 1)) >= FIDELITY - 2
    assert [type(g) for g in held.dividers] == [type(g) for g in model.dividers]


def test_a_file_of_128_lines_and_32_colour_units_is_a_few_kilobytes_and_small_models_a_few_hundred_bytes():
    big = trained_like(random_model("linear", 128, seed=8, m=32, size=(171, 256)))
    small = trained_like(random_model("linear", 16, seed=8, m=8, size=(171, 256)))
    assert len(model_data(big)[0]) < 4500  # primitive's SVG of 256 triangles of a photo: 4.5 kB gzipped
    assert len(model_data(small)[0]) < 400


def corrupted(data):
    """(name, bytes) of files broken in the ways a server, a disk or a hostile user breaks them."""
    header_end = 11 + 3 * data[10] + 7
    n, m = sum(struct.unpack_from("<H", data, 12 + 3 * g)[0] for g in range(data[10])), data[9]
    body = zlib.decompress(data[header_end:], wbits=-15)
    bomb = zlib.compress(bytes(50 << 20), 9, wbits=-15)  # 50 MB of zeros in 50 kB
    yield "empty", b""
    yield "text", b"<!doctype html><p>404 not found</p>"
    yield "magic only", MAGIC
    yield "cut in the header", data[:14]
    yield "cut in the stream", data[: len(data) // 2]
    yield "version 2", data[:4] + b"\2" + data[5:]
    yield "no colour units", data[:9] + b"\0" + data[10:]
    yield "unknown kind", data[:11] + b"\7" + data[12:]
    yield "too many dividers", data[:12] + struct.pack("<H", 60000) + data[14:]
    yield "bad precision", data[: header_end - 7] + b"\40" + data[header_end - 6 :]
    yield "NaN reach", data[: header_end - 6] + struct.pack("<f", float("nan")) + data[header_end - 2 :]
    yield "stream not deflate", data[:header_end] + bytes(range(200))
    yield "stream too short", data[:header_end] + zlib.compress(body[:-5], wbits=-15)
    yield "stream too long", data[:header_end] + zlib.compress(body + bytes(5), wbits=-15)
    yield "zip bomb", data[:header_end] + bomb
    yield "trailing bytes", data + b"junk"
    rest = data[header_end - 1] * (5 * m + 3)  # bytes of the colour numbers after W1
    if data[header_end - 2] & 128:  # packed: with every bit of the stream set, each weight is L + 1
        yield (
            "weight out of range",
            data[:header_end] + zlib.compress(b"\xff" * (len(body) - rest) + body[-rest:], wbits=-15),
        )
    else:
        start = len(body) - rest - n * m
        broken = body[:start] + b"\x7f" * (n * m) + body[-rest:]
        yield "weight out of range", data[:header_end] + zlib.compress(broken, wbits=-15)
    yield "infinite colour", data[:header_end] + zlib.compress(body[:-2] + b"\x00\x7c", wbits=-15)
    yield "over a megabyte", data + bytes(1 << 20)


def precision_of(data):
    header_end = 11 + 3 * data[10] + 7
    return data[header_end - 2], data[header_end - 1]


def test_the_decoder_refuses_every_broken_file_with_one_line():
    data, _ = model_data(random_model("linear", 12, seed=4, m=6, size=(H, W)), precision=(5, 2))
    for name, broken in corrupted(data):
        with pytest.raises(ModelDataError) as err:
            decode(broken)
        message = str(err.value)
        assert message and "\n" not in message, name


def test_random_damage_is_a_model_or_a_model_data_error_never_another_exception():
    data, _ = model_data(random_model("circular", 10, seed=2, m=6, size=(H, W)))
    rng = np.random.default_rng(0)
    outcomes = {"model": 0, "refused": 0}
    for _ in range(400):
        broken = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            broken[rng.integers(len(broken))] = rng.integers(256)
        if rng.random() < 0.3:
            broken = broken[: rng.integers(len(broken))]
        try:
            model = decode(bytes(broken))
        except ModelDataError:
            outcomes["refused"] += 1
        else:
            assert model.render(size=(8, 8)).shape == (8, 8, 3)
            outcomes["model"] += 1
    assert outcomes["refused"] > 100 and outcomes["model"] > 0, outcomes


def test_the_minified_viewer_is_esbuilds_minification_of_the_source(tmp_path):
    out = tmp_path / "min.js"
    subprocess.run(
        [need("esbuild"), str(viewer_path()), "--minify", "--format=esm", "--target=es2022", f"--outfile={out}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert out.read_text() == viewer_path(minified=True).read_text(), "run scripts/build_viewer.sh"
    assert "</script" not in out.read_text()  # the page inlines it


def site(folder, body, script=""):
    """A page of the site in `folder` that loads the viewer as sites do, and reports into <pre id=out>."""
    shutil.copy(viewer_path(), folder / "scalefree-image.js")
    (folder / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><style>body{margin:0;background:#fff}'
        "pre{position:absolute;top:2000px}</style></head><body>"
        f'{body}<pre id="out"></pre><script type="module">import "./scalefree-image.js";{script}</script></body></html>'
    )


@pytest.mark.parametrize("name", MODELS)
def test_the_element_draws_the_file_as_the_hard_render_at_its_own_size_and_at_a_scale(name, tmp_path):
    model = MODELS[name]()
    data, held = data_of(name, model)
    (tmp_path / "m.sfm").write_bytes(data)
    # One element at the photo's size (the default), one at -x 2 -b 0.5 below it.
    site(
        tmp_path,
        '<scalefree-image src="m.sfm" style="position:absolute;left:0;top:0"></scalefree-image>'
        f'<scalefree-image src="m.sfm" scale="2" border="0.5" style="position:absolute;left:0;top:{H}px">'
        "</scalefree-image>",
    )
    with served(tmp_path) as url:
        shot = screenshot(url + "index.html", 2 * W, 3 * H)
    for picture, hard in ((shot[:H, :W], held.render(1)), (shot[H:, : 2 * W], held.render(2, 0.5))):
        psnr_db, off = agreement(picture, hard)
        assert psnr_db >= 40 and off < 0.01, (name, psnr_db, off)


def test_the_element_follows_its_box_and_fits_the_frame_to_any_shape(tmp_path):
    model = MODELS["lines"]()
    data, held = model_data(model)
    (tmp_path / "m.sfm").write_bytes(data)
    # Drawn first at 3x the photo, then the box shrinks to 2x once it has drawn; a second element has a
    # box twice as wide as the photo's shape: the frame sits in its middle, what is beyond it on both sides.
    site(
        tmp_path,
        f'<div id="box" style="width:{3 * W}px"><scalefree-image id="a" src="m.sfm" style="width:100%">'
        f'</scalefree-image></div><scalefree-image src="m.sfm" style="position:absolute;left:0;top:{3 * H}px;'
        f'width:{2 * W}px;height:{H}px"></scalefree-image>',
        'const a = document.getElementById("a");'
        'a.addEventListener("load", () => { document.getElementById("box").style.width = "' + str(2 * W) + 'px"; });',
    )
    with served(tmp_path) as url:
        shot = screenshot(url + "index.html", 2 * W, 4 * H)
    psnr_db, off = agreement(shot[: 2 * H, : 2 * W], held.render(2))
    assert psnr_db >= 40 and off < 0.01, (psnr_db, off)
    assert (shot[2 * H : 3 * H] == 255).all()  # the element's height followed its width: 2 H, not 3 H
    wide = shot[3 * H :, : 2 * W]
    psnr_db, off = agreement(wide[:, W // 2 : W // 2 + W], held.render(1))
    assert psnr_db >= 40 and off < 0.01, (psnr_db, off)
    assert not (wide[:, : W // 2] == 255).all(axis=2).all()  # beyond the frame is drawn, not left blank


def damaged(data, count, seed=0):
    """`count` copies of `data` with a few random bytes changed, some cut short too."""
    rng = np.random.default_rng(seed)
    for k in range(count):
        broken = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            broken[rng.integers(len(broken))] = rng.integers(256)
        yield f"damaged {k}", bytes(broken[: rng.integers(len(broken))] if rng.random() < 0.3 else broken)


def test_broken_files_are_refused_in_the_console_drawn_as_nothing_and_hang_nothing(tmp_path):
    data, _ = model_data(mixed_model(), precision=(5, 2))
    files = dict(corrupted(data)) | dict(damaged(data, 40))
    files["good"] = data
    names, verdicts = {}, {}
    for i, (name, content) in enumerate(files.items()):
        (tmp_path / f"{i}.sfm").write_bytes(content)
        names[f"{i}.sfm"] = name
        try:
            decode(content)
            verdicts[name] = "load"
        except ModelDataError:
            verdicts[name] = "error"
    assert list(verdicts.values()).count("load") > 1  # some damage leaves a file that still draws
    elements = "".join(f'<scalefree-image src="{f}" style="width:20px"></scalefree-image>' for f in names)
    site(
        tmp_path,
        elements,
        """
        const said = [], out = document.getElementById("out"), all = [...document.querySelectorAll("scalefree-image")];
        const error = console.error;
        console.error = (...args) => { said.push(args.join(" ")); error(...args); };
        const settled = all.map((e) => new Promise((done) => {
          e.addEventListener("load", () => done([e.getAttribute("src"), "load", e.shadowRoot.lastChild.width]));
          e.addEventListener("error", () => done([e.getAttribute("src"), "error", e.shadowRoot.lastChild.width]));
        }));
        Promise.all(settled).then((results) => { out.textContent = JSON.stringify({results, said}); });
        """,
    )
    with served(tmp_path) as url:
        report = page_text(url + "index.html", budget_ms=30000)
    assert isinstance(report, dict), report
    outcome = {src: (event, width) for src, event, width in report["results"]}
    assert set(outcome) == set(names)
    for src, name in names.items():
        event, width = outcome[src]
        assert event == verdicts[name], name  # the viewer and the Python decoder agree on every file
        if event == "load":  # 20 px wide, or 0 when damage left a frame so flat that its box is empty
            assert width == 20 or (name.startswith("damaged") and width == 0), (name, width)
        else:
            assert width == 0, name
            lines = [line for line in report["said"] if f'src="{src}"' in line]
            assert len(lines) == 1, (name, report["said"])
    assert all(verdicts[name] == "error" for name, _ in corrupted(data))


@pytest.mark.parametrize("kind", ["linear", "circular"])
def test_the_page_shows_exactly_the_photo_in_an_iframe_of_its_size_and_fits_any_window(kind, tmp_path):
    model = random_model(kind, 30, seed=7, size=(H, W))
    html, drawn = page(model, about="a test model with a long description " * 3)
    (tmp_path / "page.html").write_text(html)
    (tmp_path / "frames.html").write_text(
        '<!doctype html><html><body style="margin:0;background:#fff">'
        f'<iframe src="page.html" width="{W}" height="{H}" style="border:0;display:block"></iframe>'
        f'<iframe src="page.html" width="{2 * W}" height="{H}" style="border:0;display:block"></iframe>'
        "</body></html>"
    )
    with served(tmp_path) as url:
        shot = screenshot(url + "frames.html", 2 * W, 2 * H)
        window = screenshot(url + "page.html", 800, 600)  # a plain window of the photo's shape, 10x its size
    psnr_db, off = agreement(shot[:H, :W], drawn.render(1))
    assert psnr_db >= 40 and off < 0.01, (psnr_db, off)  # and no help box over it
    psnr_db, off = agreement(shot[H:, W // 2 : W // 2 + W], drawn.render(1))
    assert psnr_db >= 40 and off < 0.01, (psnr_db, off)
    psnr_db, off = agreement(window, drawn.render(10))
    assert psnr_db >= 40 and off < 0.01, (psnr_db, off)


def test_the_command_line_writes_the_data_file_and_python_loads_it(trained_models, tmp_path, capsys):
    out = tmp_path / "discs.sfm"
    assert main(["-j", "-m", str(trained_models["linear"]), "--model_data", str(out)]) == 0
    said = capsys.readouterr().out
    assert "bytes; PSNR" in said and str(out) in said and "scalefree-image" in said, said
    model = scalefree.load(out)
    stored = scalefree.load(trained_models["linear"])
    assert out.read_bytes() == stored.to_data()
    assert model.n_dividers == 8 and model.training is None
    # The same picture: its colours fitted again to the photo around the rounding, so they draw it as well.
    photo = stored.training.image
    assert agreement(model.render(4), stored.render(4))[0] >= 30
    assert model.psnr(photo) >= stored.psnr(photo) - 0.1
    out.write_bytes(out.read_bytes()[:20])
    with pytest.raises(scalefree.UserError, match="cut short|shorter|stream"):
        scalefree.load(out)


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--model_data", "x.sfm"], "use it with --just_image"),
        (["-j", "--model_data", "x.html"], "should end in .sfm"),
    ],
)
def test_bad_data_file_requests_are_one_line_errors(trained_models, tmp_path, capsys, args, pattern):
    argv = ["-m", str(trained_models["linear"])] + [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    assert main(argv) != 0
    assert pattern in capsys.readouterr().err.strip().splitlines()[-1]
    assert not list(tmp_path.iterdir())


def test_the_page_is_its_data_file_and_the_minified_viewer():
    model = trained_like(random_model("linear", 128, seed=8, m=32, size=(171, 256)))
    html, _ = page(model)
    data, _ = model_data(model)
    viewer = gzip.compress(viewer_path(minified=True).read_bytes(), 9)
    # The data travels as base64 (4/3 of its bytes, which gzip mostly cannot undo) beside the viewer.
    assert len(gzip.compress(html.encode(), 9)) < len(viewer) + 4 / 3 * len(data) + 600


def test_a_byte_budget_gets_the_precision_that_draws_the_photo_best_within_it(trained_models):
    from scalefree.formats.modeldata import PRECISIONS

    model = scalefree.load(trained_models["circular"])
    photo = model.training.image
    candidates = [model_data(model, precision=p, photo=photo) for p in PRECISIONS]
    sizes = sorted({len(data) for data, _ in candidates})
    for budget in (sizes[0], sizes[len(sizes) // 2], sizes[-1]):
        data = model.to_data(max_bytes=budget)
        assert len(data) <= budget
        best = max(held.psnr(photo) for d, held in candidates if len(d) <= budget)
        assert decode(data).psnr(photo) == pytest.approx(best, abs=1e-9)
    with pytest.raises(ModelDataError, match=f"at least {sizes[0]:,} bytes"):
        model.to_data(max_bytes=sizes[0] - 1)
    # Without a budget: the precision best for its bytes, at DB_PER_DOUBLING dB per doubling of them.
    from scalefree.formats.modeldata import DB_PER_DOUBLING

    chosen = decode(model.to_data()).psnr(photo) - DB_PER_DOUBLING * np.log2(len(model.to_data()))
    assert chosen >= max(held.psnr(photo) - DB_PER_DOUBLING * np.log2(len(d)) for d, held in candidates) - 1e-9


def test_with_the_photo_the_colours_are_fitted_again_around_the_rounded_weights(trained_models):
    model = scalefree.load(trained_models["circular"])
    photo = model.training.image
    # Colours the photo does not have: the output biases shifted, as if training had stopped early.
    t = model.colour_layers
    off = model.replace(colour_layers=ColourLayers(t.w1, t.b1, t.w2, t.b2 + np.float32(1.5)))
    for precision in ((4, 2), (8, 4)):
        alone, _ = model_data(off, precision=precision)
        refitted, held = model_data(off, precision=precision, photo=photo)
        # The same dividers at the same precision, only the colour numbers fitted again ...
        assert abs(len(refitted) - len(alone)) < 0.1 * len(alone)
        for a, b in zip(held.dividers[0].arrays, decode(alone).dividers[0].arrays):
            np.testing.assert_array_equal(a, b)
        # ... and the photo's colours back: those of the model before the shift, far above the shifted one's.
        assert held.psnr(photo) > model.psnr(photo) - 0.2
        assert held.psnr(photo) > max(off.psnr(photo), decode(alone).psnr(photo)) + 2


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["-j", "--model_data", "x.sfm", "--max_bytes", "0"], "--max_bytes must be greater than 0"),
        (["-j", "--model_data", "x.sfm", "--max_bytes", "20"], "takes at least"),
    ],
)
def test_bad_budgets_are_one_line_errors(trained_models, tmp_path, capsys, args, pattern):
    argv = ["-m", str(trained_models["linear"])] + [str(tmp_path / a) if a.startswith("x.") else a for a in args]
    assert main(argv) != 0
    assert pattern in capsys.readouterr().err.strip().splitlines()[-1]
    assert not list(tmp_path.iterdir())


def test_a_run_with_a_byte_budget_chooses_its_shape_says_so_and_writes_a_file_within_it(tmp_path, capsys):
    from conftest import discs_image
    from PIL import Image

    photo = tmp_path / "discs.png"
    Image.fromarray(discs_image(64)).save(photo)
    args = ["-i", str(photo), "-c", "1", "--seed", "0", "--no_display", "--output_dir", str(tmp_path)]
    assert main([*args, "--max_bytes", "300"]) == 0
    said = capsys.readouterr().out
    chosen = re.search(r"for model data of at most 300 bytes: (\d+) lines and (\d+) colour units", said)
    assert chosen, said
    n, m = int(chosen.group(1)), int(chosen.group(2))
    assert 8 <= n <= 32 and m == max(4, round(n / 4))
    (data,) = tmp_path.glob("*.sfm")
    assert len(data.read_bytes()) <= 300 and str(data) in said
    model = scalefree.load(data)
    assert model.n_dividers == n and model.n_colour_units == m
    # A shape given with it must fit; a budget below any model is refused.
    assert main([*args, "-d", "64", "--max_bytes", "300", "--overwrite"]) != 0
    assert "more than --max_bytes 300" in capsys.readouterr().err
    assert main([*args, "--max_bytes", "20", "--overwrite"]) != 0
    assert "less than the smallest model data" in capsys.readouterr().err


def test_fit_with_a_byte_budget_returns_a_model_whose_data_keeps_to_it():
    from conftest import discs_image

    model = scalefree.fit(discs_image(48), max_bytes=250, cycles=1, seed=0, progress=False)
    assert model.n_dividers > 4 and model.n_colour_units >= 4
    assert len(model.to_data()) <= 250
    assert len(model.to_html()) > 0 and len(model.to_data(max_bytes=10**6)) >= len(model.to_data())
