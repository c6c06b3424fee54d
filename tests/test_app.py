"""A training run's own bookkeeping: the cycle it ends on."""

import numpy as np
import pytest
from conftest import half_planes_image
from PIL import Image

from scalefree.app import Training
from scalefree.checkpoint import Checkpoint
from scalefree.history import CycleResult
from scalefree.run import Run, RunOptions


@pytest.fixture
def training(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(24)).save(image)
    options = RunOptions(input_image=str(image), output_dir=str(tmp_path), no_display=True)
    run = Run(options, {"n_dividers": 3, "seed": 0})
    lines = []
    return Training(run, log=lines.append), lines


def _cycle(training, number, psnr, weights):
    training.trainer.model.set_weights(weights)
    training.on_cycle(CycleResult(number, 0.01, psnr, 0.1, 1e5, 1))


def test_a_run_ends_on_its_best_cycle_when_a_later_one_drew_worse(training):
    training, lines = training
    start = training.trainer.model.get_weights()
    best = [w + 0.5 for w in start]
    _cycle(training, 1, 15.0, start)
    _cycle(training, 2, 18.0, best)
    _cycle(training, 3, 16.5, [w - 0.5 for w in start])
    training.keep_best()
    for kept, wanted in zip(training.trainer.model.get_weights(), best):
        np.testing.assert_array_equal(kept, wanted)
    saved = Checkpoint.read(training.run.checkpoint_path)
    for kept, wanted in zip(saved.weights, best):
        np.testing.assert_array_equal(kept, wanted)
    assert saved.cycle == 3 and len(saved.history.cycles) == 3  # the count and the record go on
    assert lines[-1] == "kept cycle 2, the best this run: PSNR 18.00 dB (the last had 16.50)"
    assert training.psnr == 18.0


def test_a_run_whose_last_cycle_is_its_best_keeps_it_as_it_is(training):
    training, lines = training
    start = training.trainer.model.get_weights()
    _cycle(training, 1, 15.0, [w + 0.5 for w in start])
    _cycle(training, 2, 18.0, start)
    said = len(lines)
    training.keep_best()
    assert len(lines) == said
    for kept, wanted in zip(training.trainer.model.get_weights(), start):
        np.testing.assert_array_equal(kept, wanted)
