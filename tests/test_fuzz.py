"""Fuzzing what comes from outside: checkpoint payloads and bytes, and command-line options.

Every outcome must be a clean load (a checkpoint that fits its config, all
finite) or the one error meant for the user, quickly and without memory
blowing up.
"""

import math
import pickle
import tracemalloc

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_checkpoint import real_payload

from scalefree.cli.parser import parse
from scalefree.config import LIMITS, Config, ConfigError
from scalefree.formats import checkpoint
from scalefree.formats.checkpoint import CheckpointError

# derandomize: the same examples on every run, so a failure in CI is a failure here too.
# An example takes 1-5 ms on this 2-core machine, 30 ms when it decodes the most; the
# deadline leaves room for a machine several times slower and loaded, not for a hang.
FUZZ = settings(max_examples=1000, deadline=2000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _array(dtype, shape, fill):
    with np.errstate(invalid="ignore", over="ignore"):
        return np.full(shape, fill).astype(dtype)


arrays = st.builds(
    _array,
    st.sampled_from(["<f4", "<f8", "|u1", "<i8"]),
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from([0, 1, -1, 255, np.nan, np.inf, 1e38]),
)
plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
    | arrays,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "config",
    "image",
    "image_name",
    "cycle",
    "epoch",
    "dividers",
    "colour_layers",
    "weights",
    "optimizer",
    "history",
    "format",
    "version",
]
CONFIG_FIELDS = list(Config().to_dict())


def assert_sound(loaded):
    """What a successful load promises: a model that draws, and a network that can be built from it."""
    t = loaded.training
    assert t.config.validate() is t.config
    assert [tuple(w.shape) for w in loaded.weights()] == t.config.weight_shapes()
    assert all(np.isfinite(w).all() for w in loaded.weights())
    assert t.image.dtype == np.uint8 and t.image.ndim == 3 and t.image.shape[2] == 3
    assert isinstance(t.cycle, int) and t.cycle >= 0
    assert loaded.render(size=(4, 5)).shape == (4, 5, 3)


def read_back(data):
    try:
        loaded = checkpoint.from_payload(checkpoint.loads(data))
    except CheckpointError as err:
        event(f"refused: {str(err).split(':')[0].split(' (')[0][:40]}")
        return None
    event("loaded")
    assert_sound(loaded)
    return loaded


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(FIELDS + CONFIG_FIELDS), plain | st.just("DELETE")), min_size=1, max_size=4))
def test_mutated_payloads_load_or_fail_cleanly(mutations):
    payload = {"format": checkpoint.FORMAT, "version": checkpoint.VERSION, **real_payload()}
    for name, value in mutations:
        target = payload.get("config") if name in CONFIG_FIELDS else payload
        if not isinstance(target, dict):
            continue  # an earlier mutation replaced the config itself
        if isinstance(value, str) and value == "DELETE":
            target.pop(name, None)
        else:
            target[name] = value
    try:
        data = pickle.dumps(checkpoint._encode(payload), protocol=5)
    except (RecursionError, ValueError):
        return
    read_back(data)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["flip", "cut", "insert", "delete"]),
            st.integers(0, 10**6),
            st.binary(min_size=1, max_size=8),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_damaged_bytes_load_or_fail_cleanly(edits):
    data = bytearray(checkpoint.dumps(real_payload()))
    for kind, where, blob in edits:
        i = where % max(len(data), 1)
        if kind == "flip" and data:
            data[i] ^= blob[0] or 1
        elif kind == "cut":
            del data[i:]
        elif kind == "insert":
            data[i:i] = blob
        elif kind == "delete":
            del data[i : i + len(blob)]
    # Memory the reading itself takes (tracemalloc sees numpy's and the unpickler's allocations):
    # a byte changed in a memo index once made the unpickler ask for gigabytes.
    tracemalloc.start()
    try:
        read_back(bytes(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 300e6


NUMBERS = st.sampled_from(
    ["0", "-1", "1", "2.5", "1e400", "-1e400", "inf", "-inf", "nan", "1e-320", "9" * 30, "0x10", "", "1,5", "ten"]
) | st.integers(-(10**12), 10**12).map(str)
OPTIONS = [
    "-d",
    "-n",
    "-p",
    "-e",
    "-c",
    "-l",
    "-s",
    "-g",
    "-x",
    "-b",
    "--batch_size",
    "--divider_lr_scale",
    "--lr_decay_steps",
    "--seed",
    "--max_seconds",
    "--target_psnr",
    "--pixel_budget",
]


@settings(max_examples=1000, deadline=1000, derandomize=True)
@given(
    st.lists(st.tuples(st.sampled_from(OPTIONS), NUMBERS), max_size=6),
    st.sampled_from(["linear", "circular", "relu", "triangle"]),
)
def test_options_parse_to_a_sound_config_or_a_clean_error(pairs, kind):
    argv = ["-t", kind] + [token for pair in pairs for token in pair]
    try:
        typed = parse(argv)
    except SystemExit as done:  # argparse's one-line error
        assert done.code == 2
        return
    fields = {k: v for k, v in typed.items() if k in Config().to_dict()}
    try:
        config = Config(**fields).validate()
    except ConfigError:
        return
    for name, value in config.to_dict().items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert math.isfinite(value), name
            assert abs(value) <= LIMITS.get(name, math.inf), name
    assert config.n_dividers >= 1 and config.n_hidden >= 1 and config.batch_size >= 1
