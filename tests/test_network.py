"""The Keras network of a Model: built from it, read back into it, and computing what it computes."""

import numpy as np
import pytest

from scalefree.config import Config
from scalefree.model import ColourLayers, Model
from scalefree.nn.network import Network, build_optimizer
from scalefree.shapes import Circles, DenseUnits, Lines


def random_model(kind, n=16, m=8, seed=0, sharpness=1000.0):
    rng = np.random.default_rng(seed)
    if kind is Lines:
        group = Lines(rng.uniform(-1, 1, (n, 2)), rng.uniform(0, 2 * np.pi, n))
    elif kind is Circles:
        group = Circles(rng.uniform(-1, 1, (n, 2)), np.log(rng.uniform(0.1, 0.9, n)))
    else:
        group = DenseUnits(rng.normal(0, 1, (2, n)), rng.normal(0, 0.5, n))
    layers = ColourLayers(
        rng.normal(0, 0.5, (n, m)).astype(np.float32),
        rng.normal(0, 0.2, m).astype(np.float32),
        rng.normal(0, 1.0, (m, 3)).astype(np.float32),
        rng.normal(0, 0.2, 3).astype(np.float32),
    )
    return Model((group,), layers, (48, 64), sharpness)


@pytest.mark.parametrize("kind", [Lines, Circles, DenseUnits])
def test_keras_forward_equals_the_numpy_forward(kind):
    model = random_model(kind, n=32, m=12, seed=1)
    config = Config(type=kind.type, n_dividers=32, n_hidden=12)
    points = np.random.default_rng(2).uniform(-1.2, 1.2, (20000, 2))
    numpy_rgb = model.colours(points)
    # The same formulas: in float64 the Keras network and numpy agree everywhere, steps included.
    exact = Network.of(config, model, dtype="float64").keras(points).numpy()
    np.testing.assert_allclose(exact, numpy_rgb, atol=1e-9)
    # As training runs it, in float32: within 1e-5 wherever the step tanh(1000 E) has settled.
    # Within a hair of a divider (|1000 E| < 2, under 2 % of these points) float32's rounding
    # of E is multiplied a thousandfold, so there it is within 1e-3.
    keras_rgb = Network.of(config, model).keras.predict(points.astype(np.float32), verbose=0, batch_size=4096)
    settled = np.ones(len(points), bool)
    if kind.partitions:
        settled = (np.abs(model.dividers[0].excitation(points)) * model.sharpness >= 2).all(axis=1)
        assert settled.mean() > 0.9
    np.testing.assert_allclose(keras_rgb[settled], numpy_rgb[settled], atol=1e-5)
    np.testing.assert_allclose(keras_rgb, numpy_rgb, atol=1e-3)


@pytest.mark.parametrize("kind", [Lines, Circles, DenseUnits])
def test_a_model_read_back_is_the_model_it_was_built_from(kind):
    model = random_model(kind, seed=3)
    network = Network.of(Config(type=kind.type, n_dividers=16, n_hidden=8), model)
    again = network.model(model.size, model.sharpness)
    assert again.dividers == model.dividers
    for a, b in zip(again.colour_layers.arrays, model.colour_layers.arrays):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["linear", "circular", "relu"])
def test_a_network_from_a_config_has_the_spec_shape(kind):
    config = Config(type=kind, n_dividers=7, n_hidden=5, seed=0)
    network = Network.of(config)
    assert [tuple(w.shape) for w in network.keras.get_weights()] == config.weight_shapes()
    out = network.keras.predict(np.zeros((4, 2), np.float32), verbose=0)
    assert out.shape == (4, 3) and ((out > 0) & (out < 1)).all()  # sigmoid outputs


@pytest.mark.parametrize("name, slots", [("adam", 2), ("adadelta", 2), ("sgd", 1)])
def test_every_optimizer_is_the_one_named_with_the_configured_rate(name, slots):
    import keras

    config = Config(optimizer=name, learning_rate=0.02, lr_decay_steps=0, n_dividers=3, n_hidden=2)
    network = Network.of(config)
    optimizer = build_optimizer(config, network)
    expected = {"adam": keras.optimizers.Adam, "adadelta": keras.optimizers.Adadelta, "sgd": keras.optimizers.SGD}
    assert isinstance(optimizer, expected[name]) and float(optimizer.learning_rate) == pytest.approx(0.02)
    # Each of its per-weight states is known by the variable it belongs to, and its state is its own:
    # the step count, the rate and the slots, never the network's weights.
    for variable in network.keras.trainable_variables:
        held = optimizer.slots_of(variable)
        assert len(held) == slots and all(tuple(s.shape) == tuple(variable.shape) for s in held)
    own = {id(v) for v in optimizer.variables}
    assert not own & {id(v) for v in network.keras.weights}
    assert len(optimizer.variables) == 2 + slots * len(network.keras.trainable_variables)
    if name == "sgd":
        assert optimizer.momentum == pytest.approx(0.9)
