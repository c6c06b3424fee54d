import threading

import numpy as np
import pytest

from scalefree.config import Config
from scalefree.train import Trainer, psnr, run_cycles


def trained(image, epochs=300, **options):
    config = Config(**{"n_hidden": 16, "seed": 0, **options})
    trainer = Trainer(config, image)
    for _ in range(epochs):
        trainer.train_epoch()
    return trainer


def test_three_lines_recover_three_half_planes(half_planes):
    trainer = trained(half_planes, type="linear", n_dividers=3)
    assert psnr(trainer.evaluate()) >= 30.0


def test_three_circles_recover_three_discs(discs):
    trainer = trained(discs, type="circular", n_dividers=3)
    assert psnr(trainer.evaluate()) >= 30.0


def test_same_seed_same_result(half_planes):
    a = trained(half_planes, epochs=5, n_dividers=4, seed=7)
    b = trained(half_planes, epochs=5, n_dividers=4, seed=7)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_an_epoch_visits_every_pixel(half_planes):
    trainer = Trainer(Config(n_dividers=2, batch_size=1000, seed=3), half_planes)
    seen = []
    for _ in range(trainer.steps_per_epoch):
        x, _ = next(trainer._iterator)
        seen.append(x.numpy())
    seen = np.concatenate(seen)
    assert len(seen) == trainer.steps_per_epoch * 1000
    assert len(np.unique(seen, axis=0)) == trainer.pixels


@pytest.mark.parametrize("stop", ["cycles", "target_psnr", "max_seconds"])
def test_run_cycles_stops_when_asked(half_planes, stop):
    options = {"cycles": 3} if stop == "cycles" else {stop: {"target_psnr": 1.0, "max_seconds": 1e-6}[stop]}
    trainer = Trainer(Config(n_dividers=3, seed=0, **options), half_planes)
    results = []
    reason = run_cycles(trainer, 0, threading.Event(), results.append)
    assert stop.replace("_", " ") in reason.replace("--", "").replace("_", " ")
    assert [r.cycle for r in results] == list(range(1, (3 if stop == "cycles" else 1) + 1))


def test_stop_event_ends_after_the_current_epoch(half_planes):
    trainer = Trainer(Config(n_dividers=3, seed=0, epochs_per_cycle=50), half_planes)
    stop = threading.Event()
    stop.set()
    results = []
    assert run_cycles(trainer, 4, stop, results.append) == "stopped"
    assert len(results) == 1 and results[0].cycle == 5 and results[0].epochs == 1
