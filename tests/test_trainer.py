import threading

import numpy as np
import pytest

from scalefree.config import Config
from scalefree.nn import surgery
from scalefree.nn.trainer import Trainer
from scalefree.plane.pictures import psnr
from scalefree.run.cycles import train_cycles as run_cycles


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
    for wa, wb in zip(a.network.keras.get_weights(), b.network.keras.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_an_epoch_visits_every_pixel(half_planes):
    trainer = Trainer(Config(n_dividers=2, batch_size=1000, seed=3), half_planes)
    seen = []
    for _ in range(trainer.steps_per_epoch):
        index = next(trainer._iterator)  # a batch of pixel indices; coordinates are looked up from them
        seen.append(trainer.coords_at(index.numpy()))
    seen = np.concatenate(seen)
    assert len(seen) == trainer.steps_per_epoch * 1000
    assert len(np.unique(seen, axis=0)) == trainer.pixels


def test_large_images_stream_an_epoch_that_still_visits_every_pixel(half_planes, monkeypatch):
    import scalefree.nn.pipeline

    monkeypatch.setattr(scalefree.nn.pipeline, "STREAM_PIXELS", 1000)  # the 64x64 image counts as large
    trainer = Trainer(Config(n_dividers=2, batch_size=300, seed=3), half_planes)
    epochs = []
    for _ in range(2):
        epochs.append(np.concatenate([next(trainer._iterator).numpy() for _ in range(trainer.steps_per_epoch)]))
    for seen in epochs:
        assert len(seen) == trainer.steps_per_epoch * 300
        assert set(seen.tolist()) == set(range(trainer.pixels))
    assert not np.array_equal(epochs[0], epochs[1])  # each epoch an order of its own
    again = Trainer(Config(n_dividers=2, batch_size=300, seed=3), half_planes)
    np.testing.assert_array_equal(next(again._iterator).numpy(), epochs[0][:300])  # same seed, same order
    before = trainer.evaluate()
    for _ in range(20):
        trainer.train_epoch()
    assert trainer.evaluate() < before / 2


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


def test_dividers_step_by_the_scaled_rate_and_rates_decay(half_planes):
    # SGD without momentum makes each step exactly rate x gradient.
    config = Config(
        n_dividers=3, n_hidden=4, seed=0, optimizer="sgd", learning_rate=0.5, divider_lr_scale=0.25, lr_decay_steps=2
    )
    trainer = Trainer(config, half_planes)
    trainer.optimizer.momentum = 0.0
    from scalefree.nn._tensorflow import tf

    x, y = trainer.coords[:256], trainer.colors[:256]
    variables = trainer.network.keras.trainable_variables
    dividers = {id(v) for v in trainer.network.divider_variables}
    for step in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(trainer.network.keras(x) - y))
        grads = [g.numpy() for g in tape.gradient(loss, variables)]
        before = [v.numpy() for v in variables]
        trainer.optimizer.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        rate = 0.5 / (1 + step / 2)
        for v, b, g in zip(variables, before, grads):
            scale = 0.25 if id(v) in dividers else 1.0
            np.testing.assert_allclose(b - v.numpy(), rate * scale * g, rtol=1e-3, atol=1e-6)


def test_a_resumed_run_uses_the_learning_rate_it_is_given(half_planes):
    first = Trainer(Config(n_dividers=3, seed=0, learning_rate=0.01, lr_decay_steps=0), half_planes)
    first.train_epoch()
    resumed = Trainer(
        Config(n_dividers=3, seed=0, learning_rate=0.0042, lr_decay_steps=0),
        half_planes,
        model=first.to_model(),
        optimizer_state=first.optimizer_weights(),
        epoch=first.epoch,
    )
    assert float(resumed.optimizer.learning_rate) == pytest.approx(0.0042)
    # The step count carries on, so a decaying rate goes on from where it was, and so do the moments.
    assert int(resumed.optimizer.iterations) == int(first.optimizer.iterations) > 0
    kept = [v.path.endswith("learning_rate") for v in resumed.optimizer.variables]
    assert kept.count(True) == 1  # a constant rate is a variable of the optimizer: the typed one wins
    for a, b, rate in zip(resumed.optimizer_weights(), first.optimizer_weights(), kept):
        assert rate or np.array_equal(a, b)


def test_a_checkpoint_restores_the_optimizer_state_it_saved(half_planes, tmp_path):
    from scalefree.formats import checkpoint
    from scalefree.model import TrainingState

    config = Config(n_dividers=3, n_hidden=4, seed=0)
    first = Trainer(config, half_planes)
    first.train_epoch()
    state = TrainingState(config, half_planes, "planes.png", 1, first.epoch, first.optimizer_weights())
    first.to_model().replace(training=state).save(tmp_path / "m.pkl")
    saved = checkpoint.read(tmp_path / "m.pkl")
    again = Trainer(config, half_planes, model=saved, optimizer_state=saved.training.optimizer, epoch=1)
    for a, b in zip(again.optimizer_weights(), first.optimizer_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(again.optimizer.iterations) == first.steps_per_epoch


@pytest.mark.parametrize(
    "shape, kind, batch",
    [((1, 1), "linear", 256), ((1, 64), "circular", 256), ((64, 1), "linear", 256), ((64, 64), "linear", 9000)],
)
def test_tiny_images_and_huge_batches_train(shape, kind, batch):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    trainer = Trainer(Config(type=kind, n_dividers=4, n_hidden=4, batch_size=batch, seed=0), image)
    assert trainer.batch_size == min(batch, shape[0] * shape[1])
    loss = trainer.train_epoch()
    assert np.isfinite(loss) and np.isfinite(trainer.evaluate())


def test_a_cycle_with_non_finite_weights_raises_diverged(half_planes):
    from scalefree.errors import Diverged

    trainer = Trainer(Config(n_dividers=3, n_hidden=4, seed=0, cycles=3), half_planes)
    weights = trainer.network.keras.get_weights()
    weights[2][0, 0] = np.nan
    trainer.network.keras.set_weights(weights)
    seen = []
    with pytest.raises(Diverged, match="cycle 1"):
        run_cycles(trainer, 0, threading.Event(), seen.append)
    assert seen == []


def test_moving_the_weakest_moves_a_useless_divider_and_holds_the_rest_of_the_picture(discs):
    trainer = Trainer(Config(type="circular", n_dividers=4, n_hidden=8, seed=0), discs)
    for _ in range(5):
        trainer.train_epoch()
    model = trainer.to_model()
    layers = model.colour_layers
    w1 = layers.w1.copy()
    w1[2] = 0.0  # divider 2 no longer matters to any colour unit
    trainer.set_model(model.replace(colour_layers=type(layers)(w1, layers.b1, layers.w2, layers.b2)))
    before = trainer.to_model()
    moved = surgery.move_weakest(trainer, 4)
    after = trainer.to_model()
    # Any divider may be asked about; one whose colour weights are zero is worth nothing, so it moves.
    assert 2 in moved
    old, new = before.dividers[0], after.dividers[0]
    assert all(not np.array_equal(old.take([j]).arrays[0], new.take([j]).arrays[0]) for j in moved)
    kept = [j for j in range(4) if j not in moved]
    assert new.take(kept) == old.take(kept)
    # A moved divider is held to the side most pixels were on (its colour weights folded into the
    # bias) until training gives it a use: the picture is the old one with those dividers held.
    # The 64 x 64 image is its whole 4096-pixel sample, so the majority is over every pixel.
    xy = trainer.coords
    first = before.first_layer(xy)
    majority = np.where(before.sides(xy).mean(axis=0) >= 0, 1.0, -1.0)
    first[:, moved] = majority[moved]
    held = before.colour_layers.colours(before.colour_layers.hidden(first))
    np.testing.assert_allclose(after.colours(xy), held, atol=1e-5)


def test_colour_units_that_no_pixel_turns_on_are_restarted(discs):
    t = Trainer(Config(type="circular", n_dividers=3, n_hidden=6, seed=0), discs)
    model = t.to_model()
    layers = model.colour_layers
    b1 = layers.b1.copy()
    b1[:4] = -100.0  # four units off for every pixel: no gradient would ever reach them
    b1[4:] = 100.0  # and two on for every pixel
    t.set_model(model.replace(colour_layers=type(layers)(layers.w1, b1, layers.w2, layers.b2)))
    before = t.to_model()
    picture = before.colours(t.coords)
    assert list(surgery.revive_dead_units(t)) == [0, 1, 2, 3]
    after = t.to_model()
    hidden = after.colour_layers.hidden(after.sides(t.coords))
    assert ((hidden[:, :4] > 0).mean(axis=0) > 0.2).all()  # on again, for a good share of pixels
    w2 = after.colour_layers.w2
    assert (w2[:4] == 0).all() and (w2[4:] == before.colour_layers.w2[4:]).all()
    np.testing.assert_allclose(after.colours(t.coords), picture, atol=1e-6)  # the picture does not jump
    assert len(surgery.revive_dead_units(t)) == 0


def test_a_trainer_goes_on_to_another_image_of_its_size_without_tracing_again(half_planes, discs):
    config = Config(type="linear", n_dividers=3, n_hidden=4, seed=0)
    reused = Trainer(config, half_planes)
    reused.train_epoch()
    traced = reused._train_steps.experimental_get_tracing_count()
    fresh = Trainer(config, discs)  # the same size: 64 x 64
    assert reused.fits(config, discs, fresh.to_model())
    reused.reset(config, discs, fresh.to_model(), seed=0)
    for _ in range(2):
        reused.train_epoch()
        fresh.train_epoch()
    assert reused._train_steps.experimental_get_tracing_count() == traced
    # What it learns there is what a trainer made for that image learns.
    for a, b in zip(reused.network.keras.get_weights(), fresh.network.keras.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert reused.epoch == 2 and psnr(reused.evaluate()) == pytest.approx(psnr(fresh.evaluate()), abs=1e-4)
    # Another size or another network does not fit.
    assert not reused.fits(config, discs[:32], fresh.to_model())
    assert not reused.fits(Config(type="linear", n_dividers=3, n_hidden=5, seed=0), discs, fresh.to_model())


def test_the_psnr_training_reports_is_that_of_the_picture_drawn_not_of_a_soft_ramp():
    from scalefree.model import ColourLayers, Model
    from scalefree.shapes import Circles, Lines

    # A circle of radius 500 whose edge runs down the middle of a 20-pixel frame: E = (d - r) / r
    # changes by 0.2 / 1000 a pixel, so tanh(1000 E) ramps over several pixels, while the picture
    # (each region one colour) has a hard edge. Reddish inside, bluish outside, in proportion to the
    # unit's output; a line beside it adds nothing.
    w1 = np.array([[0.0, 0.0], [-1.0, 1.0]], np.float32)
    w2 = np.array([[4, 0, 0], [0, 0, 4]], np.float32)
    groups = (Lines([[0.0, 0.5]], [0.0]), Circles([[500.0, 0.0]], [np.log(500.0)]))
    model = Model(groups, ColourLayers(w1, np.zeros(2), w2, np.full(3, -2.0)), (20, 20))
    picture = model.render()
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) == 2  # two regions, one colour each
    soft = model.psnr(picture, hard=False)
    assert soft < 30  # the network's function is far from its own picture along the ramp
    trainer = Trainer(Config(type="mixed", n_dividers=2, n_hidden=2, seed=0), picture, model=model)
    # It measures the picture: exact but for the picture's 8 bits (half a level at most: 54 dB or more).
    assert psnr(trainer.evaluate()) > 50 > soft + 20
