"""Config: defaults that depend on the divider type, validation, the resume rule."""

import math

import pytest

from scalefree.config import Config, ConfigError, field_names

# The defaults the README's option table promises, written out here rather
# than read from the code, so that a changed default fails until it is documented.
DOCUMENTED = {
    "linear": {"placement": "edges", "replacement_period": 0, "effective_gradient_sharpness": 20.0},
    "circular": {"placement": "combined", "replacement_period": 20, "effective_gradient_sharpness": 20.0},
    "relu": {"placement": "random", "replacement_period": 0, "effective_gradient_sharpness": 20.0},
}


@pytest.mark.parametrize("kind", ["linear", "circular", "relu"])
def test_unset_options_take_the_documented_default_of_their_type_and_set_ones_win(kind):
    c = Config(type=kind)
    assert {name: getattr(c, name) for name in DOCUMENTED[kind]} == DOCUMENTED[kind]
    set_ = Config(type=kind, init="random", replace_every=7, gradient_sharpness=3.0)
    assert set_.placement == "random" and set_.effective_gradient_sharpness == 3.0
    assert set_.replacement_period == (0 if kind == "relu" else 7)  # relu units have nowhere to move


def test_the_api_words_for_a_type_are_its_aliases():
    assert Config(type="lines").validate().type == "linear"
    assert Config(type="circles").validate().type == "circular"
    assert Config(type="circular").merged({"type": "circles"}).validate().type == "circular"


def test_weight_shapes_follow_the_network():
    assert Config(type="linear", n_dividers=5, n_hidden=4).weight_shapes() == [(5, 2), (5,), (5, 4), (4,), (4, 3), (3,)]
    assert Config(type="relu", n_dividers=5, n_hidden=4).weight_shapes()[:2] == [(2, 5), (5,)]


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("n_dividers", 0, "greater than 0"),
        ("learning_rate", math.nan, "finite"),
        ("border", -1.0, "not be negative"),
        ("n_dividers", 10**9, "more than scalefree allows"),
        ("type", "hexagons", "unknown type"),
        ("optimizer", "rmsprop", "unknown optimizer"),
        ("n_hidden", "32", "unusable value"),
        ("cycles", True, "unusable value"),
    ],
)
def test_validation_names_the_option_that_cannot_work(field, value, words):
    with pytest.raises(ConfigError, match=words) as err:
        Config(**{field: value}).validate()
    assert field in str(err.value) or field == "type" or field == "optimizer"


def test_too_many_weights_is_refused_before_anything_is_built():
    with pytest.raises(ConfigError, match="more weights"):
        Config(n_dividers=60000, n_hidden=60000).validate()  # each under its limit, together 3.6e9


def test_resume_rule_typed_options_win_but_the_network_shape_is_the_stored_one():
    stored = Config(type="circular", n_dividers=16, n_hidden=8, learning_rate=0.01)
    resumed = stored.merged({"learning_rate": 0.001, "n_dividers": 16})
    assert resumed.learning_rate == 0.001 and resumed.n_dividers == 16 and resumed.type == "circular"
    with pytest.raises(ConfigError, match="does not fit the stored network"):
        stored.merged({"n_hidden": 9})


def test_stored_configs_round_trip_and_unknown_keys_are_ignored():
    c = Config(type="circular", seed=3)
    assert Config.from_dict({**c.to_dict(), "from_a_later_version": 1}) == c
    assert set(c.to_dict()) == set(field_names())
    with pytest.raises(ConfigError, match="not a mapping"):
        Config.from_dict([1, 2])
