"""A training run's own bookkeeping: its first model, and the cycle it ends on."""

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
    """A new run of 3 lines whose first model is made and saved, and whose Trainer is built."""
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(24)).save(image)
    options = RunOptions(input_image=str(image), output_dir=str(tmp_path), no_display=True)
    run = Run.open(options, {"n_dividers": 3, "seed": 0})
    lines = []
    trained = TrainedRun(run, log=lines.append)
    trained.first_model()
    trained.start_training()
    return trained, lines


def _cycle(training, number, psnr, weights):
    training.trainer.network.keras.set_weights(weights)
    training.on_cycle(CycleResult(number, 0.01, psnr, 0.1, 1e5, 1))


def test_the_first_model_is_cycle_0_saved_and_drawn_before_training(training):
    training, lines = training
    result, model = training.first
    saved = checkpoint.read(training.run.checkpoint_path)
    assert saved.training.cycle == 0 and saved.training.optimizer is None
    assert [c.cycle for c in saved.training.history.cycles] == [0]
    np.testing.assert_array_equal(saved.render(), model.render())
    # Its PSNR is its picture's, which is the one written as the run's first picture.
    picture = np.asarray(Image.open(training.sketch_path))
    np.testing.assert_array_equal(picture, model.render(size=training.run.size))
    assert result.cycle == 0 and result.epochs == 0 and f"cycle 0, PSNR {result.psnr:.2f} dB" in lines[1]


def test_a_run_ends_on_its_best_cycle_when_a_later_one_drew_worse(training):
    training, lines = training
    base = training.first[0].psnr
    start = training.trainer.network.keras.get_weights()
    best = [w + 0.5 for w in start]
    _cycle(training, 1, base + 1.0, start)
    _cycle(training, 2, base + 4.0, best)
    _cycle(training, 3, base + 2.5, [w - 0.5 for w in start])
    training.keep_best()
    for kept, wanted in zip(training.trainer.network.keras.get_weights(), best):
        np.testing.assert_array_equal(kept, wanted)
    saved = checkpoint.read(training.run.checkpoint_path)
    for kept, wanted in zip(saved.weights(), best):
        np.testing.assert_array_equal(kept, wanted)
    t = saved.training
    assert t.cycle == 3 and len(t.history.cycles) == 4  # the count and the record go on, cycle 0 first
    assert lines[-1] == f"kept cycle 2, the best this run: PSNR {base + 4:.2f} dB (the last had {base + 2.5:.2f})"
    assert training.psnr == base + 4.0


def test_a_run_never_ends_worse_than_its_first_model(training):
    training, lines = training
    base = training.first[0].psnr
    first = training.first[1]
    start = training.trainer.network.keras.get_weights()
    _cycle(training, 1, base - 3.0, [w + 0.5 for w in start])
    training.keep_best()
    assert lines[-1] == f"kept cycle 0, the first model: PSNR {base:.2f} dB (the last had {base - 3:.2f})"
    np.testing.assert_array_equal(training.trainer.to_model().render(), first.render())
    assert checkpoint.read(training.run.checkpoint_path).training.cycle == 1


def test_a_run_whose_last_cycle_is_its_best_keeps_it_as_it_is(training):
    training, lines = training
    base = training.first[0].psnr
    start = training.trainer.network.keras.get_weights()
    _cycle(training, 1, base + 1.0, [w + 0.5 for w in start])
    _cycle(training, 2, base + 4.0, start)
    said = len(lines)
    training.keep_best()
    assert len(lines) == said
    for kept, wanted in zip(training.trainer.network.keras.get_weights(), start):
        np.testing.assert_array_equal(kept, wanted)


def test_a_resumed_run_never_ends_worse_than_the_model_it_was_given(training, capsys):
    training, _ = training
    start = training.trainer.network.keras.get_weights()
    _cycle(training, 1, 99.0, start)
    training.keep_best()
    lines = []
    options = RunOptions(model_file=training.run.checkpoint_path, no_display=True)
    resumed = TrainedRun(Run.open(options), log=lines.append)
    assert resumed.first_model() is None  # a resumed run places nothing
    resumed.start_training()
    given = resumed.trainer.psnr()
    _cycle(resumed, 2, given - 1.0, [w + 0.5 for w in start])
    resumed.keep_best()
    for kept, wanted in zip(resumed.trainer.network.keras.get_weights(), start):
        np.testing.assert_array_equal(kept, wanted)
    assert lines[-1].startswith(f"kept cycle 1, the model it started from: PSNR {given:.2f} dB")
    assert checkpoint.read(resumed.run.checkpoint_path).training.cycle == 2
