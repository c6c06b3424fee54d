"""The per-cycle hooks on their own: what each writes, and what it hands on."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import half_planes_image
from PIL import Image

from scalefree.formats import checkpoint
from scalefree.history import CycleResult, History
from scalefree.model import TrainingState
from scalefree.nn.trainer import Trainer
from scalefree.run.hooks import CheckpointWriter, FrameWriter, PreviewSender
from scalefree.run.options import RunOptions
from scalefree.run.run import Run
from scalefree.run.window import Mailbox


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hooks")
    image = folder / "planes.png"
    Image.fromarray(half_planes_image(24)).save(image)
    options = RunOptions(input_image=str(image), output_dir=str(folder), save_frames=str(folder / "frames"))
    run = Run.open(options, {"n_dividers": 3, "n_hidden": 4, "seed": 0, "disp_mult": 2.0})
    (folder / "frames").mkdir()
    trainer = Trainer(run.config, run.train_image)
    trainer.train_epoch()
    result = CycleResult(1, 0.02, 17.0, 0.1, 5e5, 1)
    history = History([result])
    state = TrainingState(run.config, run.image, run.image_name, 1, trainer.epoch, trainer.optimizer_weights(), history)
    return run, trainer.to_model().replace(training=state), result


def test_checkpoint_writer_saves_what_resumes_the_run(setting):
    run, model, result = setting
    writer = CheckpointWriter(run.checkpoint_path)
    assert writer.saved_cycle is None
    writer(result, model)
    assert writer.saved_cycle == 1
    saved = checkpoint.read(run.checkpoint_path)
    t = saved.training
    assert t.cycle == 1 and t.epoch == 1 and t.image_name == "planes.png" and t.history.cycles == [result]
    for a, b in zip(saved.weights(), model.weights()):
        np.testing.assert_array_equal(a, b)


def test_frame_writer_draws_the_partition_at_disp_mult_and_records_the_frame(setting):
    run, model, result = setting
    writer = FrameWriter(run)
    writer(result, model)
    frames = sorted(p.name for p in Path(run.frames_dir).iterdir())
    assert writer.written == 1 and frames == ["frames.jsonl", "planes_24x24_linear_3d_4h_cycle-00000001.png"]
    with Image.open(f"{run.frames_dir}/{frames[1]}") as frame:
        np.testing.assert_array_equal(np.asarray(frame), model.render(scale=2.0, hard=True))
    record = json.loads((Path(run.frames_dir) / "frames.jsonl").read_text())
    assert record["cycle"] == 1 and record["psnr"] == 17.0 and record["parameters"]["n_dividers"] == 3


def test_preview_sender_hands_the_window_the_picture_a_status_and_the_dividers(setting):
    run, model, result = setting
    box = Mailbox()
    PreviewSender(run, box)(result, model)
    picture, status, segments = box.take()
    np.testing.assert_array_equal(picture, model.render(size=run.size))
    assert "cycle 1" in status and "17.00" in status
    np.testing.assert_array_equal(segments, model.dividers[0].segments(*run.size))
    assert box.take() is None
