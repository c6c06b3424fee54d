"""The per-cycle hooks on their own: what each writes, and what it hands on."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import half_planes_image
from PIL import Image

from scalefree.checkpoint import Checkpoint
from scalefree.history import CycleResult, History
from scalefree.hooks import CheckpointWriter, FrameWriter, PreviewSender
from scalefree.run import Run, RunOptions
from scalefree.window import Mailbox


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hooks")
    image = folder / "planes.png"
    Image.fromarray(half_planes_image(24)).save(image)
    options = RunOptions(input_image=str(image), output_dir=str(folder), save_frames=str(folder / "frames"))
    run = Run(options, {"n_dividers": 3, "n_hidden": 4, "seed": 0, "disp_mult": 2.0})
    (folder / "frames").mkdir()
    trainer = run.trainer()
    trainer.train_epoch()
    run.cycle = 1
    return run, trainer, CycleResult(1, 0.02, 17.0, 0.1, 5e5, 1)


def test_checkpoint_writer_saves_what_resumes_the_run(setting):
    run, trainer, result = setting
    history = History()
    history.add(result)
    writer = CheckpointWriter(run, history)
    assert writer.saved_cycle is None
    writer(result, trainer)
    assert writer.saved_cycle == 1
    saved = Checkpoint.read(run.checkpoint_path)
    assert saved.cycle == 1 and saved.epoch == trainer.epoch and saved.image_name == "planes.png"
    for a, b in zip(saved.weights, trainer.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frame_writer_renders_at_disp_mult_and_records_the_frame(setting):
    run, trainer, result = setting
    writer = FrameWriter(run)
    writer(result, trainer)
    frames = sorted(p.name for p in Path(run.frames_dir).iterdir())
    assert writer.written == 1 and frames == ["frames.jsonl", "planes_24x24_linear_3d_4h_cycle-00000001.png"]
    with Image.open(f"{run.frames_dir}/{frames[1]}") as frame:
        assert frame.size == (48, 48)
    record = json.loads((Path(run.frames_dir) / "frames.jsonl").read_text())
    assert record["cycle"] == 1 and record["psnr"] == 17.0 and record["parameters"]["n_dividers"] == 3


def test_preview_sender_hands_the_window_a_picture_a_status_and_segments(setting):
    run, trainer, result = setting
    box = Mailbox()
    PreviewSender(run, box)(result, trainer)
    picture, status, segments = box.take()
    assert picture.shape == (24, 24, 3) and picture.dtype == np.uint8
    assert "cycle 1" in status and "17.00" in status
    assert segments.ndim == 2 and segments.shape[1] == 2 and len(segments) > 0
