"""The network a Config builds, and the weights a hard render or SVG takes from it."""

import numpy as np
import pytest

from scalefree.config import Config
from scalefree.model import build_model, build_optimizer, partition_weights


@pytest.mark.parametrize("kind", ["linear", "circular", "relu"])
def test_the_network_has_the_spec_shape(kind):
    config = Config(type=kind, n_dividers=7, n_hidden=5, seed=0)
    model = build_model(config)
    assert [tuple(w.shape) for w in model.get_weights()] == config.weight_shapes()
    out = model.predict(np.zeros((4, 2), np.float32), verbose=0)
    assert out.shape == (4, 3) and ((out > 0) & (out < 1)).all()  # sigmoid outputs


def test_partition_weights_are_the_dividers_then_the_colour_layers():
    model = build_model(Config(type="circular", n_dividers=6, n_hidden=4, seed=1))
    dividers, colour = partition_weights(model)
    assert [a.shape for a in dividers] == [(6, 2), (6,)]
    assert [a.shape for a in colour] == [(6, 4), (4,), (4, 3), (3,)]
    for a, b in zip(dividers + colour, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["adam", "adadelta", "sgd"])
def test_every_optimizer_builds_with_the_configured_rate(name):
    optimizer = build_optimizer(Config(optimizer=name, learning_rate=0.02, lr_decay_steps=0))
    assert float(optimizer.learning_rate) == pytest.approx(0.02)
