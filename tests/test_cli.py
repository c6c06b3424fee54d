"""image_learn.py as a user meets it: options, outputs, resume, bad input."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, half_planes_image, run_main
from PIL import Image

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
    """image_learn.py running in the background, its output readable line by line."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "image_learn.py"), *args, "--no_display"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def wait_for_cycle(proc, timeout=90):
    """Read the run's output until its first cycle line (or the timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline and not proc.stdout.readline().startswith("cycle"):
        pass


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
    proc = start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", str(tmp_path))
    wait_for_cycle(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    saved = re.search(r"model saved to (\S+)", out).group(1)
    assert checkpoint.load(saved)["cycle"] >= 1
    assert "Traceback" not in err


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
    proc = start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", str(tmp_path))
    first = proc.stdout.readline()
    assert first.startswith("learning planes.png")
    proc.send_signal(signal.SIGINT)  # while TensorFlow loads: nothing is saved yet
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "cycle" not in out
    assert err.strip().splitlines()[-1] == "image_learn.py: aborted; nothing was saved", err
    assert not list(tmp_path.glob("*.pkl"))


def test_a_run_that_diverges_stops_and_keeps_the_last_finite_checkpoint(tmp_path, image_file, capsys):
    assert (
        run_main(
            capsys, "-i", image_file, "-d", "3", "-n", "4", "-c", "1", "--output_dir", str(tmp_path), "--no_display"
        )[0]
        == 0
    )
    model = tmp_path / "planes_32x32_linear_3d_4h.pkl"
    payload = checkpoint.load(model)
    # Finite, but so large that |X - C| overflows: the first step's loss is NaN.
    arrays = payload["dividers"][0]["arrays"]
    arrays[0] = np.full_like(arrays[0], 3e38)
    checkpoint.save(model, payload)
    before = model.read_bytes()
    code, out, err = run_main(capsys, "-m", str(model), "-c", "2", "--no_display")
    assert code == 2 and "training diverged in cycle 2" in err and "is as it was" in err and "smaller -l" in err
    assert not re.search(r"^cycle", out, re.M)
    assert model.read_bytes() == before


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
        proc = start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", str(tmp_path / sig.name))
        wait_for_cycle(proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"{sig.name}: stopping after this epoch" in out
        saved = re.search(r"model saved to (\S+)", out).group(1)
        assert checkpoint.load(saved)["cycle"] >= 1


def test_a_second_run_on_the_same_checkpoint_is_refused_while_the_first_trains(tmp_path, image_file):
    first = start("-i", image_file, "-d", "4", "-c", "0", "--output_dir", str(tmp_path))
    try:
        model = str(tmp_path / "planes_32x32_linear_4d_32h.pkl")
        deadline = time.time() + 90
        while not os.path.exists(model) and time.time() < deadline:
            time.sleep(0.05)
        second = cli("-m", model, "-c", "1", "--no_display")
        assert_clean_error(second, f"is being trained by another run \\(process {first.pid}\\)")
        # Nor may a new run start it afresh under the first's feet.
        assert_clean_error(
            cli("-i", image_file, "-d", "4", "--output_dir", str(tmp_path), "--overwrite", "--no_display", "-c", "1"),
            "is being trained by another run",
        )
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 0
    # A lock of a run that was killed does not block the next one.
    killed = start("-m", model, "-c", "0")
    wait_for_cycle(killed)
    killed.kill()
    killed.communicate(timeout=60)
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
    assert (tmp_path / "planes_32x32_linear_3d_32h_sketch.png").exists()


def test_a_first_model_that_meets_the_target_ends_the_run_without_tensorflow(tmp_path, image_file):
    code = (
        "import sys; from scalefree.cli.commands import image_learn; assert image_learn(sys.argv[1:]) == 0; "
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')); assert not bad, bad"
    )
    args = ["-i", image_file, "-d", "3", "--target_psnr", "10", "--output_dir", str(tmp_path), "--no_display"]
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reached --target_psnr 10 dB with the first model" in result.stdout
    saved = checkpoint.read(tmp_path / "planes_32x32_linear_3d_32h.pkl")
    assert saved.training.cycle == 0 and saved.training.history.cycles[0].psnr >= 10
    # It resumes like any checkpoint: training goes on from it.
    again = cli("-m", str(tmp_path / "planes_32x32_linear_3d_32h.pkl"), "-c", "1", "--no_display")
    assert again.returncode == 0 and "resuming at cycle 0" in again.stdout
