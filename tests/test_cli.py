"""image_learn.py as a user meets it: options, outputs, resume, bad input."""

import os
import re
import shlex
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, half_planes_image, run_main
from PIL import Image
from processes import image_learn

from scalefree.formats import checkpoint
from scalefree.plane.pictures import picture_psnr

SEED_OPTIONS = ["-i", "-t", "-d", "-n", "-m", "-j", "-e", "-c", "-x", "-b", "-p", "-l", "-s", "-g", "-f"]
SEED_LONG = [
    "--input_image",
    "--type",
    "--n_dividers",
    "--n_hidden",
    "--model_file",
    "--just_image",
    "--epochs_per_cycle",
    "--cycles",
    "--disp_mult",
    "--border",
    "--downscale",
    "--learning_rate",
    "--sharpness",
    "--gradient_sharpness",
    "--save_frames",
]


def cli(*args, timeout=120):
    return subprocess.run(
        [sys.executable, str(ROOT / "image_learn.py"), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def start(*args):
    """image_learn.py running in the background with no window, its output read as it comes."""
    return image_learn(*args, "--no_display")


def assert_clean_error(result, pattern):
    """One error line of the tool's own, last on stderr; whatever libraries print is not judged."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    ours = [line for line in result.stderr.splitlines() if line.startswith("image_learn.py: error:")]
    assert len(ours) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == ours[0], result.stderr
    assert re.search(pattern, ours[0]), ours[0]


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(path)
    return str(path)


def test_help_lists_every_seed_option():
    result = cli("--help")
    assert result.returncode == 0
    for flag in SEED_OPTIONS + SEED_LONG:
        assert re.search(rf"(^|[\s,]){flag}\b", result.stdout), flag
    text = " ".join(result.stdout.split())  # help text wraps anywhere
    for default in [
        "(default: linear)",
        "(default: 1000.0)",
        "(default: 20)",
        "(default: 0.004)",
    ]:
        assert default in text


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["-i", "/no/such.png"], "not found"),
        (["-d", "0"], "n_dividers must be greater than 0"),
        (["-n", "-3"], "n_hidden must be greater than 0"),
        (["-x", "0"], "disp_mult must be greater than 0"),
        (["-t", "triangles"], "invalid choice"),
        (["-d", "many"], "invalid int"),
        (["-m", "/no/such.pkl"], "cannot read model file"),
        (["-j"], "needs a model"),
    ],
)
def test_bad_options_are_one_line_errors(args, pattern):
    assert_clean_error(cli(*args, "--no_display"), pattern)


def test_corrupt_image_and_corrupt_model(tmp_path):
    bad_image = tmp_path / "bad.jpg"
    bad_image.write_bytes(b"\xff\xd8\xff garbage")
    assert_clean_error(cli("-i", str(bad_image)), "image")
    bad_model = tmp_path / "bad.pkl"
    bad_model.write_bytes(b"\x80\x05garbage")
    assert_clean_error(cli("-m", str(bad_model)), "truncated or corrupt")


def test_unwritable_output_dir(tmp_path, image_file):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_clean_error(
        cli("-i", image_file, "--output_dir", str(blocker / "sub"), "-c", "1"), "cannot create output directory"
    )


def test_train_resume_override_and_render(tmp_path, image_file, capsys):
    out_dir, frames = tmp_path / "out", tmp_path / "frames"
    code, out, _ = run_main(
        capsys,
        "-i",
        image_file,
        "-d",
        "3",
        "-n",
        "4",
        "-c",
        "2",
        "--seed",
        "0",
        "--output_dir",
        str(out_dir),
        "-f",
        str(frames),
        "--no_display",
    )
    assert code == 0
    model = out_dir / "planes_32x32_linear_3d_4h.pkl"
    assert str(model) in out and len(re.findall(r"^cycle\s+\d", out, re.M)) == 2
    # The first picture: the first model's (cycle 0's), with its PSNR and file.
    sketch = out_dir / "planes_32x32_linear_3d_4h_sketch.png"
    said = re.search(r"^placed 3 lines in .* cycle 0, PSNR (\d+\.\d+) dB .*; its picture: (\S+)$", out, re.M)
    assert said and said.group(2) == str(sketch)
    photo = np.asarray(Image.open(image_file).convert("RGB"))
    assert f"{picture_psnr(np.asarray(Image.open(sketch)), photo):.2f}" == said.group(1)
    first = checkpoint.load(model)
    assert first["cycle"] == 2 and first["config"]["learning_rate"] != 0.0042
    assert [c["cycle"] for c in first["history"]] == [0, 1, 2]

    frame_files = sorted(p.name for p in frames.glob("*.png"))
    # A frame of cycle 0, the first model, and one per cycle after it.
    assert len(frame_files) == 3 and (frames / "frames.jsonl").read_text().count("\n") == 3

    # The checkpoint draws exactly what the run drew at the cycle it kept (frames draw the partition).
    render = tmp_path / "again.png"
    code, again, _ = run_main(capsys, "-j", "-m", str(model), "--hard", "-o", str(render))
    assert code == 0 and str(render) in again
    kept = re.search(r"^kept cycle (\d+)", out, re.M)
    frame = frame_files[int(kept.group(1)) if kept else -1]
    np.testing.assert_array_equal(np.asarray(Image.open(render)), np.asarray(Image.open(frames / frame)))

    # Resume: the cycle count goes on and a typed option overrides the stored one.
    code, out, _ = run_main(capsys, "-m", str(model), "-c", "1", "-l", "0.0042", "--no_display")
    assert code == 0 and re.search(r"^cycle\s+3\b", out, re.M)
    assert "placed" not in out  # a resumed model keeps its dividers
    resumed = checkpoint.load(model)
    assert resumed["cycle"] == 3 and resumed["config"]["learning_rate"] == 0.0042
    assert resumed["config"]["n_hidden"] == 4 and [c["cycle"] for c in resumed["history"]] == [0, 1, 2, 3]

    # An option that cannot apply to the stored network is refused.
    code, _, err = run_main(capsys, "-m", str(model), "-d", "5", "-c", "1")
    assert code == 2 and "does not fit the stored network" in err
    assert checkpoint.load(model)["cycle"] == 3

    big = tmp_path / "big.png"
    code, _, _ = run_main(capsys, "-j", "-m", str(model), "-x", "2", "-b", "3", "-o", str(big))
    assert code == 0 and Image.open(big).size == (64, 64)


def test_ctrl_c_finishes_the_epoch_saves_and_exits_zero(tmp_path, image_file):
    with start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", tmp_path) as run:
        run.wait_for(r"^cycle\s+1\b")
        run.signal(signal.SIGINT)
        code, out, err = run.finish()
    assert code == 0, err
    saved = re.search(r"model saved to (\S+)", out).group(1)
    assert checkpoint.load(saved)["cycle"] >= 1
    assert "Traceback" not in err


def test_a_second_ctrl_c_aborts_at_once_and_says_which_cycle_is_saved(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(64)).save(image)
    # Batches of one pixel: an epoch of 4096 steps takes seconds, so the abort lands inside one.
    with start("-i", image, "-d", "4", "-c", "0", "--batch_size", "1", "--output_dir", tmp_path) as run:
        run.wait_for(r"^cycle\s+1\b")
        run.signal(signal.SIGINT)
        run.wait_for(r"^SIGINT: stopping after this epoch")
        run.signal(signal.SIGINT)
        code, out, err = run.finish(timeout=60)
    model = tmp_path / "planes_64x64_linear_4d_64h.pkl"
    assert code == 130
    assert err.strip().splitlines()[-1] == f"image_learn.py: aborted; {model} holds cycle 1", err
    assert checkpoint.load(model)["cycle"] == 1 and "model saved to" not in out


def test_checkpoint_with_damaged_contents_is_a_clean_error(tmp_path, capsys):
    good = {
        "config": {"type": "linear", "n_dividers": "three"},
        "image": np.zeros((4, 4, 3), np.uint8),
        "image_name": "x.png",
        "cycle": 1,
        "dividers": [],
        "colour_layers": [],
    }
    lines = [{"type": "linear", "arrays": [np.zeros(2, np.float32)]}]
    for name, payload, pattern in [
        ("config.pkl", good, "unusable value 'three'"),
        ("image.pkl", {**good, "config": {}, "image": np.zeros(5, np.float32)}, "its image is not an RGB picture"),
        ("weights.pkl", {**good, "config": {"n_dividers": 3}, "dividers": lines}, "do not fit"),
    ]:
        path = tmp_path / name
        checkpoint.save(path, payload)
        code, _, err = run_main(capsys, "-m", str(path), "-c", "1", "--no_display")
        assert code == 2 and pattern in err, err


def test_a_new_run_never_replaces_a_model(tmp_path, image_file, capsys):
    args = [
        "-i",
        image_file,
        "-d",
        "3",
        "-n",
        "4",
        "-c",
        "1",
        "--seed",
        "0",
        "--output_dir",
        str(tmp_path),
        "--no_display",
    ]
    assert run_main(capsys, *args)[0] == 0
    model = tmp_path / "planes_32x32_linear_3d_4h.pkl"
    before = model.read_bytes()
    code, _, err = run_main(capsys, *args)
    assert code == 2 and "exists already" in err and f"-m {model}" in err and "--overwrite" in err
    assert model.read_bytes() == before
    code, out, _ = run_main(capsys, *args, "--overwrite", "--seed", "1")
    assert code == 0 and model.read_bytes() != before
    # Another training size is another model, beside the first.
    assert run_main(capsys, *args, "-p", "2")[0] == 0
    assert (tmp_path / "planes_16x16_linear_3d_4h.pkl").exists() and model.exists()


def test_last_lines_are_commands_that_paste(tmp_path, image_file, capsys):
    out_dir = tmp_path / "my models"
    code, out, _ = run_main(
        capsys, "-i", image_file, "-d", "3", "-n", "4", "-c", "1", "--output_dir", str(out_dir), "--no_display"
    )
    resume, render = out.splitlines()[-2:]
    assert resume.startswith("to resume: ") and render.startswith("to render: ")
    argv = shlex.split(resume.removeprefix("to resume: "))
    assert argv[:2] == ["python", "image_learn.py"] or argv[0] == "scalefree"
    assert argv[-2:] == ["-m", str(out_dir / "planes_32x32_linear_3d_4h.pkl")]
    assert run_main(capsys, *argv[argv.index("-m") :], "-c", "1", "--no_display")[0] == 0
    argv = shlex.split(render.removeprefix("to render: "))
    code, out, _ = run_main(capsys, *argv[argv.index("--just_image") :])
    assert code == 0 and "rendered 128x128" in out


def test_large_photo_trains_at_the_budget_and_renders_at_its_own_size(tmp_path, capsys):
    photo = tmp_path / "wide.png"
    Image.fromarray(np.kron(half_planes_image(32), np.ones((2, 3, 1), np.uint8))).save(photo)  # 96x64
    frames = tmp_path / "frames"
    code, out, _ = run_main(
        capsys,
        "-i",
        str(photo),
        "-d",
        "3",
        "-n",
        "4",
        "-c",
        "1",
        "--pixel_budget",
        "1536",
        "--output_dir",
        str(tmp_path),
        "-f",
        str(frames),
        "--no_display",
    )
    assert code == 0 and "96x64, trained at 48x32" in out and "-p 1 trains on every pixel" in out
    model = tmp_path / "wide_48x32_linear_3d_4h.pkl"
    assert checkpoint.load(model)["image"].shape == (64, 96, 3)
    assert Image.open(next(frames.glob("*.png"))).size == (96, 64)
    render = tmp_path / "r.png"
    assert run_main(capsys, "-j", "-m", str(model), "-o", str(render))[0] == 0
    assert Image.open(render).size == (96, 64)
    # -p 1: every pixel, and the name says so.
    code, out, _ = run_main(
        capsys,
        "-i",
        str(photo),
        "-d",
        "3",
        "-n",
        "4",
        "-c",
        "1",
        "-p",
        "1",
        "--pixel_budget",
        "1536",
        "--output_dir",
        str(tmp_path),
        "--no_display",
    )
    assert code == 0 and "96x64, every pixel" in out and (tmp_path / "wide_96x64_linear_3d_4h.pkl").exists()


def test_ctrl_c_before_anything_is_saved_says_so(tmp_path, image_file):
    # A relu model has no first model: nothing is saved until TensorFlow has loaded and trained a cycle.
    with start("-i", image_file, "-t", "relu", "-d", "4", "-c", "0", "--output_dir", tmp_path) as run:
        run.wait_for(r"^learning planes.png")
        run.signal(signal.SIGINT)  # while TensorFlow loads: nothing is saved yet
        code, out, err = run.finish(timeout=60)
    assert code == 130 and "cycle" not in out
    assert err.strip().splitlines()[-1] == "image_learn.py: aborted; nothing was saved", err
    assert not list(tmp_path.glob("*.pkl"))


def test_ctrl_c_while_tensorflow_loads_ends_the_run_with_its_first_model(tmp_path, image_file):
    with start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", tmp_path) as run:
        run.wait_for(r"cycle 0, PSNR")
        run.signal(signal.SIGINT)
        code, out, err = run.finish(timeout=60)
    model = tmp_path / "planes_32x32_linear_4d_64h.pkl"
    assert code == 0, err
    assert "stopped before training after" in out and f"model saved to {model}" in out
    assert checkpoint.load(model)["cycle"] == 0 and not re.search(r"^cycle\s+1", out, re.M)


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["-l", "inf"], "learning_rate must be a finite number"),
        (["-g", "inf"], "gradient_sharpness must be a finite number"),
        (["-g", "nan"], "gradient_sharpness must be a finite number"),
        (["-x", "inf"], "disp_mult must be a finite number"),
        (["-b", "nan"], "border must be a finite number"),
        (["-d", "1000000000"], "more than scalefree allows"),
    ],
)
def test_numbers_that_are_not_finite_or_too_large_are_refused(args, pattern):
    assert_clean_error(cli(*args, "--no_display", "-c", "1"), pattern)


def test_sigterm_and_sighup_save_like_ctrl_c(tmp_path, image_file):
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", tmp_path / sig.name) as run:
            run.wait_for(r"^cycle\s+1\b")
            run.signal(sig)
            code, out, err = run.finish(timeout=60)
        assert code == 0, err
        assert f"{sig.name}: stopping after this epoch" in out
        saved = re.search(r"model saved to (\S+)", out).group(1)
        assert checkpoint.load(saved)["cycle"] >= 1


def test_a_second_run_on_the_same_checkpoint_is_refused_while_the_first_trains(tmp_path, image_file):
    model = str(tmp_path / "planes_32x32_linear_4d_64h.pkl")
    with start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", tmp_path) as first:
        first.wait_for(r"^cycle\s+1\b")
        second = cli("-m", model, "-c", "1", "--no_display")
        assert_clean_error(second, f"is being trained by another run \\(process {first.pid}\\)")
        # Nor may a new run start it afresh under the first's feet.
        assert_clean_error(
            cli("-i", image_file, "-d", "4", "--output_dir", str(tmp_path), "--overwrite", "--no_display", "-c", "1"),
            "is being trained by another run",
        )
        first.signal(signal.SIGINT)
        code, _, err = first.finish(timeout=60)
    assert code == 0, err
    # A lock of a run that was killed does not block the next one.
    with start("-m", model, "-c", "0") as killed:
        killed.wait_for(r"^cycle\s+\d+")
        killed.kill()
    result = cli("-m", model, "-c", "1", "--no_display")
    assert result.returncode == 0, result.stderr


def test_output_that_cannot_be_written_is_a_one_line_error(tmp_path, image_file, capsys, monkeypatch):
    assert (
        run_main(
            capsys, "-i", image_file, "-d", "3", "-n", "4", "-c", "1", "--output_dir", str(tmp_path), "--no_display"
        )[0]
        == 0
    )
    model = tmp_path / "planes_32x32_linear_3d_4h.pkl"
    folder = tmp_path / "out.png"
    folder.mkdir()
    code, _, err = run_main(capsys, "-j", "-m", str(model), "-o", str(folder) + "/")
    assert code == 2 and "is a directory" in err
    code, _, err = run_main(capsys, "-j", "-m", str(model), "-o", str(folder))
    assert code == 2 and "is a directory" in err

    # A full disk while saving: one line, and the previous checkpoint is whole.
    before = model.read_bytes()

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run_main(capsys, "-m", str(model), "-c", "1", "--no_display")
    assert code == 2 and "No space left on device" in err and "previous checkpoint there is kept" in err
    monkeypatch.undo()
    assert model.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp.pkl") or ".tmp" in p.name] == []


def test_temporary_files_of_a_killed_writer_are_removed_on_the_next_save(tmp_path):
    model = tmp_path / "m.pkl"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".m.pkl.{dead.stdout.strip()}-0a0b0c0d.tmp.pkl"
    live = tmp_path / ".m.pkl.1-0a0b0c0d.tmp.pkl"  # process 1 is always alive
    stale.write_bytes(b"half a checkpoint")
    live.write_bytes(b"someone else's save under way")
    checkpoint.save(model, {"cycle": 1})
    assert model.exists() and not stale.exists() and live.exists()


def test_the_first_model_is_saved_before_tensorflow_loads(tmp_path, image_file):
    result = cli("-i", image_file, "-d", "3", "-c", "1", "--output_dir", str(tmp_path), "--no_display")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    placed = next(i for i, line in enumerate(lines) if line.startswith("placed 3 lines"))
    assert lines[placed + 1] == "loading TensorFlow"
    assert (tmp_path / "planes_32x32_linear_3d_64h_sketch.png").exists()


def test_a_first_model_that_meets_the_target_ends_the_run_without_tensorflow(tmp_path, image_file):
    code = (
        "import sys; from scalefree.cli.commands import image_learn; assert image_learn(sys.argv[1:]) == 0; "
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')); assert not bad, bad"
    )
    args = ["-i", image_file, "-d", "3", "--target_psnr", "10", "--output_dir", str(tmp_path), "--no_display"]
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reached --target_psnr 10 dB with the first model" in result.stdout
    saved = checkpoint.read(tmp_path / "planes_32x32_linear_3d_64h.pkl")
    assert saved.training.cycle == 0 and saved.training.history.cycles[0].psnr >= 10
    # It resumes like any checkpoint: training goes on from it.
    again = cli("-m", str(tmp_path / "planes_32x32_linear_3d_64h.pkl"), "-c", "1", "--no_display")
    assert again.returncode == 0 and "resuming at cycle 0" in again.stdout


def test_a_render_too_large_is_refused_before_any_work(tmp_path, image_file, trained_models):
    render = tmp_path / "big.png"
    result = cli("-j", "-m", trained_models["linear"], "-x", "100", "--max_render_pixels", "100000", "-o", render)
    assert_clean_error(result, r"4000x4000 \(16 megapixels\), more than --max_render_pixels 100000")
    assert not render.exists()
    # Frames of a training run are refused before the photo is learnt: no checkpoint, no frame, no TensorFlow.
    frames = tmp_path / "frames"
    result = cli("-i", image_file, "-x", "40", "-f", frames, "--max_render_pixels", "1000000", "--output_dir", tmp_path)
    assert_clean_error(result, r"a frame at -x 40 is 1280x1280")
    assert "loading TensorFlow" not in result.stdout
    assert not list(tmp_path.glob("*.pkl")) and not list(frames.glob("*.png"))


def test_a_render_larger_than_training_is_drawn_from_the_partition(tmp_path, capsys):
    """Trained at 48x32, drawn at 96x64: every pixel takes its region's colour, edges sharp at the photo's pixels."""
    photo = tmp_path / "wide.png"
    Image.fromarray(np.kron(half_planes_image(32), np.ones((2, 3, 1), np.uint8))).save(photo)  # 96x64
    args = ["-i", str(photo), "-d", "6", "-n", "6", "-c", "1", "--pixel_budget", "1536", "--seed", "3"]
    assert run_main(capsys, *args, "--output_dir", str(tmp_path), "--no_display")[0] == 0
    model = tmp_path / "wide_48x32_linear_6d_6h.pkl"
    render = tmp_path / "r.png"
    assert run_main(capsys, "-j", "-m", str(model), "--hard", "-o", str(render))[0] == 0
    picture = np.asarray(Image.open(render)).reshape(-1, 3)
    assert picture.shape == (96 * 64, 3)
    # Which side of each line every pixel centre of the 96x64 render is on, worked out here:
    # the plane spans [-1, 1] along the longer side, pixel centres half a pixel in.
    centers, angles = checkpoint.read(model).dividers[0].arrays
    ys, xs = np.mgrid[0:64, 0:96]
    x, y = ((xs + 0.5 - 48) * 2 / 96).ravel(), ((ys + 0.5 - 32) * 2 / 96).ravel()
    across = (x[:, None] - centers[:, 0]) * np.cos(angles) + (y[:, None] - centers[:, 1]) * np.sin(angles)
    regions = np.unique(across > 0, axis=0, return_inverse=True)[1].ravel()
    # One colour per region: an upscaled 48x32 picture would blend colours along every edge.
    for region in np.unique(regions):
        assert len(np.unique(picture[regions == region], axis=0)) == 1, region
    assert len(np.unique(regions)) > 4


def test_verbose_lets_tensorflow_speak_and_without_it_stderr_is_empty(tmp_path, image_file):
    args = ["-i", image_file, "-d", "4", "-n", "4", "-c", "1", "-e", "1", "--no_display", "--output_dir", tmp_path]
    quiet = cli(*args)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = cli(*args, "--overwrite", "--verbose")
    assert loud.returncode == 0, loud.stderr
    # TensorFlow's C++ log lines: a severity letter, then the month and day (I1202, W0000, E0000 ...).
    assert re.search(r"^[IWE]\d{4} ", loud.stderr, re.M), loud.stderr
    for said in (quiet.stdout, loud.stdout):
        assert len(re.findall(r"^cycle\s+1\b", said, re.M)) == 1, said


@pytest.mark.parametrize("until, share, most", [(2, 0.25, 2), (4, 0.125, 1)])
def test_replace_until_and_replace_share_bound_which_epochs_move_how_many(until, share, most, tmp_path):
    """Dividers move (weakest to where error is) at epochs up to --replace_until, at most share x N at a time."""
    import scalefree

    path = tmp_path / "m.pkl"
    seen = []

    def on_cycle(result):
        (group,) = scalefree.load(path).dividers
        seen.append(np.concatenate([group.arrays[0], group.arrays[1][:, None]], axis=1))

    # A learning rate too small to move anything: what moves, replacement moved. Random
    # starting places leave moves that pay.
    scalefree.fit(
        half_planes_image(40),
        dividers=8,
        shape="lines",
        colours=8,
        cycles=6,
        epochs_per_cycle=1,
        learning_rate=1e-7,
        replace_every=1,
        replace_until=until,
        replace_share=share,
        init="random",
        seed=0,
        checkpoint=path,
        on_cycle=on_cycle,
        progress=False,
    )
    moved = [int((np.abs(b - a).max(axis=1) > 1e-4).sum()) for a, b in zip(seen, seen[1:])]
    assert len(moved) == 6  # cycles 0 (the first model) to 6: one epoch each
    assert all(m <= most for m in moved[:until]) and sum(moved[:until]) >= 1, moved
    assert moved[until:] == [0] * (6 - until), moved


def test_the_first_models_colours_are_refined_while_tensorflow_loads(tmp_path):
    from scalefree.formats.images import read_bundled_image

    photo = tmp_path / "photo.png"
    Image.fromarray(read_bundled_image()[::4, ::4]).save(photo)  # 64x64: many regions, a fit far from their colours
    result = cli(
        "-i", photo, "-d", "64", "-n", "16", "-c", "1", "--seed", "0", "--no_display", "--output_dir", tmp_path
    )
    assert result.returncode == 0, result.stderr
    first = float(re.search(r"^placed .* cycle 0, PSNR ([\d.]+) dB", result.stdout, re.M).group(1))
    refined = float(re.search(r"^refined the first model's colours .* PSNR ([\d.]+) dB$", result.stdout, re.M).group(1))
    assert refined > first
    lines = result.stdout.splitlines()
    assert lines.index(next(x for x in lines if x.startswith("refined"))) < lines.index(
        next(x for x in lines if re.match(r"cycle\s+1\b", x))
    )
    history = checkpoint.read(tmp_path / "photo_64x64_linear_64d_16h.pkl").training.history.cycles
    assert history[0].cycle == 0 and history[0].psnr == pytest.approx(refined, abs=0.005)
