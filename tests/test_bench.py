import re
import subprocess
import sys

import numpy as np
from conftest import ROOT

from scalefree.formats.images import read_bundled_image, read_image
from scalefree.plane.pictures import downscale, picture_psnr


def tables(text):
    """Every markdown table of the bench's output, by its ### title: a list of {column: cell} rows."""
    found, title = {}, None
    for block in re.split(r"\n(?=### )", text):
        lines = block.strip().splitlines()
        if not lines or not lines[0].startswith("### "):
            continue
        title = lines[0][4:].strip()
        rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
        header, body = rows[0], rows[2:]
        found[title] = [dict(zip(header, row)) for row in body]
    return found


def flat_psnr(image):
    """The PSNR of the photo's one mean colour: what a model must beat to have learnt anything."""
    return picture_psnr(np.broadcast_to(image.reshape(-1, 3).mean(0), image.shape), image)


def test_quick_benchmark_prints_every_table_and_column(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--save", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for column in [
        "s/epoch",
        "Mpx·epoch/s",
        "GFLOP/s",
        "CPU (of all cores)",
        "full-batch s/epoch",
        "epoch / full-batch",
        "PSNR@",
        "speed-up",
        "peak RSS GB",
        "image_learn.py --help",
        "launch to first cycle line",
    ]:
        assert column in out, column
    for config in ["linear 128/32", "circular 64/20", "relu 128/32"]:
        assert config in out
    assert "failed" not in out and "nan" not in out
    found = tables(out)
    # The figures agree with each other and with what the photo allows.
    photo = downscale(read_bundled_image(), 256 / 32)  # the quick run's 32x32 copy
    floor = flat_psnr(photo)
    for row in found["Training (other options at their defaults)"]:
        seconds, rate = float(row["s/epoch"]), float(row["Mpx·epoch/s"])
        # s/epoch is printed to a thousandth, the rate to a hundredth: the pixels they imply are known to within that.
        low, high = (rate - 5e-3) * (seconds - 5e-4) * 1e6, (rate + 5e-3) * (seconds + 5e-4) * 1e6
        assert low * 0.9 <= photo.shape[0] * photo.shape[1] <= high * 1.1, row
        assert 0 < float(row["CPU (of all cores)"].rstrip("%")) <= 100
        # Both times are printed to a thousandth: at a few milliseconds that rounding alone moves their ratio
        # by a quarter, so the printed ratio (from the unrounded times) must lie in the range the rounding allows.
        full = float(row["full-batch s/epoch"])
        ratio_low, ratio_high = (seconds - 5e-4) / (full + 5e-4), (seconds + 5e-4) / max(full - 5e-4, 1e-9)
        assert ratio_low - 5e-3 <= float(row["epoch / full-batch"]) <= ratio_high + 5e-3, row
        marks = [float(v) for k, v in row.items() if k.startswith("PSNR@")]
        # From Keras's random start the first marks may sit below one flat colour; the last reaches it, to
        # within the few steps a loaded machine loses in a second (circles once ended 0.01 dB short at load 4).
        assert all(floor - 6 < v < 45 for v in marks) and marks[-1] > floor - 0.25, (row, floor)
    speed = found["Against the first tool's settings, same run"]
    first, ours = (float(r["training seconds"]) for r in speed)
    assert float(speed[1]["PSNR"]) >= float(speed[0]["PSNR"])
    # The speed-up is printed whole, from times printed to a tenth and a hundredth: judged by what they allow.
    low, high = (first - 0.05) / (ours + 0.005), (first + 0.05) / max(ours - 0.005, 1e-9)
    assert low - 0.5 <= float(speed[1]["speed-up"].rstrip("x")) <= high + 0.5, speed
    phone = dict((r["figure"], r["value"]) for r in found["A phone photo"])
    # The bundled photo enlarged, with noise: a second of 128 lines beats its mean colour.
    phone_floor = flat_psnr(read_bundled_image())
    assert float(phone["PSNR after 1 s, rendered at 640x480 against the photo (dB)"]) > phone_floor
    assert 0.05 < float(phone["peak RSS (GB)"]) < 24
    for row in found["The first model"]:
        low, high = (float(v) for v in row["range"].split("-"))
        assert 0 < low <= float(row["launch to saved cycle 0 (s), median of 3"]) <= high < 60, row
    saved = list(tmp_path.glob("*.md"))
    assert len(saved) == 1
    assert saved[0].read_text().strip() == out.strip()


def test_quick_quality_table_has_every_photo_type_and_n(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quality", "--quick", "--save", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    rows = [line for line in out.splitlines() if line.startswith("| astronaut") or line.startswith("| chelsea")]
    photos = {"astronaut": read_bundled_image(), "chelsea": read_image(str(ROOT / "assets" / "chelsea.png"))}
    floors = {name: flat_psnr(downscale(p, max(p.shape[:2]) / 32)) for name, p in photos.items()}
    # Two photos (quick mode), two types, two N each.
    assert len(rows) == 8
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] in ("linear", "circular") and cells[2] in ("2/16", "4/16")
        # Better than each photo's one mean colour (cycle 0 is its regions' colours), short of exact.
        floor = floors[cells[0].split(".")[0]]
        # "-" where a loaded machine had saved nothing yet by that mark; the last mark always has a model.
        assert cells[-1] != "-" and all(v == "-" or floor - 0.5 < float(v) < 45 for v in cells[3:]), (row, floor)
    assert "| linear |" in out and "| circular |" in out
    assert (tmp_path / next(p.name for p in tmp_path.glob("*-quality.md"))).read_text().strip() == out.strip()


def test_quick_web_table_has_data_files_that_beat_one_colour_and_the_viewer_figures(tmp_path):
    import gzip

    from scalefree.formats.page import viewer_path

    result = subprocess.run(
        [sys.executable, "-m", "bench", "--web", "--quick", "--primitive", "", "--save", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = tables(result.stdout)
    rows = found["Bytes per image against PSNR"]
    assert [r["model"] for r in rows] == ["8 lines / 4", "16 lines / 8"]
    floor = flat_psnr(read_bundled_image())
    for row in rows:
        # A data file of a few hundred bytes, and a picture better than the photo's one mean colour.
        assert 50 < int(row["bytes (gzip -9)"].replace(",", "")) < 1000, row
        psnr, unrounded = float(row["PSNR"]), float(row["unrounded PSNR"])
        # Rounding costs little; the file's colours are fitted again to the photo around it, so they may
        # even draw it a little better than the trained model's own (12.88 against 12.81 seen).
        assert floor < psnr and abs(unrounded - psnr) < 0.3, row
    viewer = {r["figure"]: r["value"] for r in found["The viewer"]}
    minified = viewer_path(minified=True).read_bytes()
    assert viewer["viewer, minified (bytes / gzip -9)"] == f"{len(minified):,} / {len(gzip.compress(minified, 9)):,}"
    (drawing,) = [v for k, v in viewer.items() if k.startswith("128 lines / 32 drawn at 1024x1024")]
    assert 0 < float(drawing.split()[0]) < 5000, drawing
    assert (tmp_path / next(p.name for p in tmp_path.glob("*-web.md"))).read_text().strip() == result.stdout.strip()
