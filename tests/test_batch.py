"""Many images in one run: one model each, a summary, bad files skipped, a second run skips what is done."""

import json
import os
import signal

import numpy as np
import pytest
from conftest import run_main
from PIL import Image
from test_cli import start

from scalefree.run.batch import expand, is_batch


def photos(folder, n=2, size=(24, 30)):
    folder.mkdir()
    for i in range(n):
        rng = np.random.default_rng(i)
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("not a photo, not looked at")
    return folder


def test_a_folder_trains_one_model_per_image_and_skips_a_bad_file(tmp_path, capsys):
    folder, out = photos(tmp_path / "in"), tmp_path / "out"
    args = ["-i", str(folder), "-d", "4", "-n", "4", "-c", "2", "--output_dir", str(out), "--no_display"]
    code, said, _ = run_main(capsys, *args, "--svg", str(tmp_path / "svg"))
    assert code == 0
    assert said.count("learning p") == 2 and "skipped" in said and "broken.jpg" in said
    table = said[said.index("image  ") :].splitlines()
    assert len(table) == 1 + 3 + 1 and table[-1].startswith("2 trained, 0 done before, 1 failed")
    for i in range(2):
        name = f"p{i}_30x24_linear_4d_4h"
        for path in (out / f"{name}.pkl", out / f"{name}_x1_b0.png", tmp_path / "svg" / f"{name}.svg"):
            assert path.exists() and str(path) in said
    ledger = [json.loads(line) for line in (out / "done.jsonl").read_text().splitlines()]
    assert [os.path.basename(r["image"]) for r in ledger] == ["p0.png", "p1.png"]

    # Again: what is done is skipped, and an image whose run was cut short goes on from its checkpoint.
    (out / "done.jsonl").write_text(json.dumps(ledger[0]) + "\n")
    code, said, _ = run_main(capsys, *args)
    assert code == 0
    assert "learning p0" not in said and "resuming at cycle 2: p1.png" in said
    assert "1 trained, 1 done before, 1 failed" in said
    # Other settings are other models: nothing is done yet.
    code, said, _ = run_main(capsys, *[("5" if a == "4" else a) for a in args])
    assert code == 0 and "2 trained, 0 done before" in said


def test_a_glob_and_several_files_are_expanded_once_each(tmp_path):
    folder = photos(tmp_path / "in", n=3)
    assert [os.path.basename(p) for p in expand([str(folder / "p*.png")])] == ["p0.png", "p1.png", "p2.png"]
    assert len(expand([str(folder / "p0.png"), str(folder / "p0.png")])) == 1
    assert is_batch([str(folder)]) and not is_batch([str(folder / "p0.png")])


@pytest.mark.parametrize(
    "extra, words",
    [
        (["-c", "0"], "say when each stops"),
        (["-c", "1", "-m", "x.pkl"], "-m and --just_image take one model"),
    ],
)
def test_several_images_need_a_stop_and_no_model_file(tmp_path, capsys, extra, words):
    folder = photos(tmp_path / "in")
    code, _, err = run_main(capsys, "-i", str(folder), *extra, "--output_dir", str(tmp_path / "out"))
    assert code != 0 and words in err.strip().splitlines()[-1]


def test_a_glob_that_matches_nothing_and_a_folder_of_bad_files_are_errors(tmp_path, capsys):
    code, _, err = run_main(capsys, "-i", str(tmp_path / "none*.png"), "-c", "1")
    assert code != 0 and "no images in" in err.strip().splitlines()[-1]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"x")
    (bad / "b.png").write_bytes(b"y")
    code, _, err = run_main(capsys, "-i", str(bad), "-c", "1", "--output_dir", str(tmp_path / "out"))
    assert code != 0 and "none of the 2 images could be trained" in err.strip().splitlines()[-1]


def test_ctrl_c_stops_the_image_under_way_saves_it_and_ends_the_batch(tmp_path):
    folder, out = photos(tmp_path / "in", n=3), tmp_path / "out"
    with start("-i", folder, "-d", "4", "-n", "4", "--max_seconds", "60", "--output_dir", out) as run:
        run.wait_for(r"^cycle\s+1\b")
        run.signal(signal.SIGINT)
        code, said, err = run.finish(timeout=90)
    assert code == 0, err
    assert "stopped; run the same command again" in said and "0 trained" in said
    assert (out / "p0_30x24_linear_4d_4h.pkl").exists() and not (out / "p1_30x24_linear_4d_4h.pkl").exists()
    assert not (out / "done.jsonl").exists()


def test_frames_pages_and_overwrite_in_a_batch(tmp_path, capsys):
    """-f keeps each image's frames in a folder of its own, --html and --model_data write a page and a data
    file each, --overwrite trains again."""
    import scalefree

    folder, out = photos(tmp_path / "in"), tmp_path / "out"
    frames, pages, data = tmp_path / "frames", tmp_path / "pages", tmp_path / "data"
    args = ["-i", str(folder), "-d", "4", "-n", "4", "-c", "2", "--output_dir", str(out), "--no_display"]
    code, said, _ = run_main(capsys, *args, "-f", str(frames), "--html", str(pages), "--model_data", str(data))
    assert code == 0 and "2 trained" in said
    for i in range(2):
        name = f"p{i}_30x24_linear_4d_4h"
        drawn = sorted(p.name for p in (frames / name).glob("*.png"))
        assert len(drawn) == 3, drawn  # cycles 0 (the first model), 1 and 2
        page = pages / f"{name}.html"
        assert page.exists() and str(page) in said
        assert page.read_text().lstrip().lower().startswith("<!doctype html>")
        held = scalefree.load(data / f"{name}.sfm")
        assert held.n_dividers == 4 and held.size == (24, 30) and str(data / f"{name}.sfm") in said
    # The same command again has nothing to do; with --overwrite every image trains afresh.
    code, said, _ = run_main(capsys, *args)
    assert code == 0 and "0 trained, 2 done before" in said and "learning p" not in said
    code, said, _ = run_main(capsys, *args, "--overwrite")
    assert code == 0 and "2 trained, 0 done before" in said and said.count("learning p") == 2
    assert "resuming" not in said
