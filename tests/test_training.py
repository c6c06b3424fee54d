"""A training run's own bookkeeping: the cycle it ends on."""

import numpy as np
import pytest
from conftest import half_planes_image
from PIL import Image

from scalefree.formats import checkpoint
from scalefree.history import CycleResult
from scalefree.run.options import RunOptions
from scalefree.run.run import Run
from scalefree.run.training import TrainedRun


@pytest.fixture
def training(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(24)).save(image)
    options = RunOptions(input_image=str(image), output_dir=str(tmp_path), no_display=True)
    run = Run.open(options, {"n_dividers": 3, "seed": 0})
    lines = []
    return TrainedRun(run, log=lines.append), lines


def _cycle(training, number, psnr, weights):
    training.trainer.network.keras.set_weights(weights)
    training.on_cycle(CycleResult(number, 0.01, psnr, 0.1, 1e5, 1))


def test_a_run_ends_on_its_best_cycle_when_a_later_one_drew_worse(training):
    training, lines = training
    start = training.trainer.network.keras.get_weights()
    best = [w + 0.5 for w in start]
    _cycle(training, 1, 15.0, start)
    _cycle(training, 2, 18.0, best)
    _cycle(training, 3, 16.5, [w - 0.5 for w in start])
    training.keep_best()
    for kept, wanted in zip(training.trainer.network.keras.get_weights(), best):
        np.testing.assert_array_equal(kept, wanted)
    saved = checkpoint.read(training.run.checkpoint_path)
    for kept, wanted in zip(saved.weights(), best):
        np.testing.assert_array_equal(kept, wanted)
    t = saved.training
    assert t.cycle == 3 and len(t.history.cycles) == 3  # the count and the record go on
    assert lines[-1] == "kept cycle 2, the best this run: PSNR 18.00 dB (the last had 16.50)"
    assert training.psnr == 18.0


def test_a_run_whose_last_cycle_is_its_best_keeps_it_as_it_is(training):
    training, lines = training
    start = training.trainer.network.keras.get_weights()
    _cycle(training, 1, 15.0, [w + 0.5 for w in start])
    _cycle(training, 2, 18.0, start)
    said = len(lines)
    training.keep_best()
    assert len(lines) == said
    for kept, wanted in zip(training.trainer.network.keras.get_weights(), start):
        np.testing.assert_array_equal(kept, wanted)


def test_a_resumed_run_never_ends_worse_than_the_model_it_was_given(training, capsys):
    training, _ = training
    start = training.trainer.network.keras.get_weights()
    _cycle(training, 1, 30.0, start)
    training.keep_best()
    lines = []
    options = RunOptions(model_file=training.run.checkpoint_path, no_display=True)
    resumed = TrainedRun(Run.open(options), log=lines.append)
    given = resumed.trainer.psnr()
    _cycle(resumed, 2, given - 1.0, [w + 0.5 for w in start])
    resumed.keep_best()
    for kept, wanted in zip(resumed.trainer.network.keras.get_weights(), start):
        np.testing.assert_array_equal(kept, wanted)
    assert lines[-1].startswith(f"kept cycle 1, the model it started from: PSNR {given:.2f} dB")
    assert checkpoint.read(resumed.run.checkpoint_path).training.cycle == 2
