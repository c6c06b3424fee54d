import os
import pickle
import shutil

import numpy as np
import pytest

from scalefree.formats import checkpoint
from scalefree.formats.checkpoint import CheckpointError


def payload():
    return {
        "config": {"type": "linear", "n_dividers": 3, "seed": None},
        "image": np.arange(24, dtype=np.uint8).reshape(2, 4, 3),
        "weights": [np.ones((3, 2), np.float32), np.zeros(3, np.float32)],
        "cycle": 4,
        "history": [{"cycle": 1, "loss": 0.5}],
    }


def test_round_trip_keeps_arrays_and_plain_values(tmp_path):
    path = tmp_path / "m.pkl"
    checkpoint.save(path, payload())
    back = checkpoint.load(path)
    np.testing.assert_array_equal(back["image"], payload()["image"])
    assert back["image"].dtype == np.uint8
    for a, b in zip(back["weights"], payload()["weights"]):
        np.testing.assert_array_equal(a, b)
    assert back["cycle"] == 4 and back["config"]["seed"] is None and back["history"][0]["loss"] == 0.5


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"format": "scalefree-checkpoint", "x": _RunsCode(str(marker))}))
    with pytest.raises(CheckpointError, match="refusing"):
        checkpoint.load(evil)
    assert not marker.exists()


def test_numpy_pickles_are_refused_too(tmp_path):
    path = tmp_path / "np.pkl"
    path.write_bytes(pickle.dumps({"format": "scalefree-checkpoint", "a": np.zeros(3)}))
    with pytest.raises(CheckpointError, match="refusing"):
        checkpoint.load(path)


@pytest.mark.parametrize("cut", [1, 10, 100, -5])
def test_truncated_file_is_a_clean_error(tmp_path, cut):
    path = tmp_path / "m.pkl"
    checkpoint.save(path, payload())
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        checkpoint.load(path)


def test_foreign_pickle_and_missing_file(tmp_path):
    path = tmp_path / "other.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}))
    with pytest.raises(CheckpointError, match="not a scalefree checkpoint"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoint.load(tmp_path / "missing.pkl")


def test_damaged_array_record_is_a_clean_error(tmp_path):
    path = tmp_path / "m.pkl"
    bad = {"format": "scalefree-checkpoint", "version": 1, "a": {"__ndarray__": ["<f4", [10], b"\x00" * 3]}}
    path.write_bytes(pickle.dumps(bad))
    with pytest.raises(CheckpointError, match="damaged"):
        checkpoint.load(path)


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.pkl"
    checkpoint.save(path, payload())
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, {**payload(), "cycle": 99})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pkl"]


def real_payload():
    """What a training run writes, without TensorFlow: the shapes come from the config."""
    from scalefree.config import Config

    config = Config(type="linear", n_dividers=3, n_hidden=4, seed=0)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=s).astype(np.float32) for s in config.weight_shapes()]
    return {
        "config": config.to_dict(),
        "image": rng.integers(0, 256, (6, 8, 3), dtype=np.uint8),
        "image_name": "photo.png",
        "cycle": 2,
        "epoch": 2,
        "dividers": [{"type": "linear", "arrays": weights[:2]}],
        "colour_layers": weights[2:],
        "optimizer": [np.asarray(7, np.int64), np.asarray(0.004, np.float32)],
        "history": [{"cycle": 1, "loss": 0.1, "psnr": 10.0, "seconds": 0.1, "pixels_per_second": 1e5, "epochs": 1}],
    }


def test_a_real_payload_reads_back_as_a_model(tmp_path):
    path = tmp_path / "m.pkl"
    checkpoint.save(path, real_payload())
    back = checkpoint.read(path)
    t = back.training
    assert back.n_dividers == 3 and back.type == "linear" and t.cycle == 2 and t.image.shape == (6, 8, 3)
    assert back.size == (6, 8) and len(t.history.cycles) == 1 and t.optimizer[0] == 7
    again = tmp_path / "again.pkl"
    back.save(again)
    assert checkpoint.read(again).weights()[0].tolist() == back.weights()[0].tolist()


DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.mark.parametrize("kind", ["linear", "circular"])
def test_a_checkpoint_written_by_0_5_0_loads_and_draws_as_it_did(kind, tmp_path, capsys):
    from PIL import Image

    from scalefree.cli.commands import image_learn

    kept = os.path.join(DATA, f"v0.5.0_{kind}_6d_4h.pkl")
    payload = checkpoint.load(kept)
    assert payload["version"] == 1 and "weights" in payload  # the old layout: one list of weights
    model = checkpoint.read(kept)
    for a, b in zip(model.weights(), payload["weights"]):
        np.testing.assert_array_equal(a, b)
    # Its hard render, x2, as scalefree 0.5.0 drew it.
    drawn_then = np.asarray(Image.open(os.path.join(DATA, f"v0.5.0_{kind}_x2_hard.png")))
    np.testing.assert_array_equal(model.render(scale=2), drawn_then)
    # It resumes, and is written back in the current layout.
    copy = tmp_path / "old.pkl"
    shutil.copyfile(kept, copy)
    assert image_learn(["-m", str(copy), "-c", "1", "--no_display"]) == 0
    assert "resuming at cycle 1" in capsys.readouterr().out
    again = checkpoint.load(copy)
    assert again["version"] == checkpoint.VERSION and again["cycle"] == 2


def damaged(field, value):
    p = real_payload()
    if value is DROP:
        del p[field]
    else:
        p[field] = value
    return p


DROP = object()
CONFIG = real_payload()["config"]
ARRAYS = real_payload()["dividers"][0]["arrays"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("config", [1, 2], "config is unusable"),
        ("config", "linear", "config is unusable"),
        ("config", {**CONFIG, "batch_size": 256.0}, "batch_size has an unusable value"),
        ("config", {**CONFIG, "epochs_per_cycle": 1.5}, "epochs_per_cycle has an unusable value"),
        ("config", {**CONFIG, "n_dividers": 10**9}, "more than scalefree allows"),
        ("config", {**CONFIG, "learning_rate": float("inf")}, "must be a finite number"),
        ("config", {**CONFIG, "border": float("nan")}, "must be a finite number"),
        ("cycle", float("inf"), "cycle is inf, not a count"),
        ("cycle", -1, "not a count"),
        ("epoch", "3", "not a count"),
        ("epoch", 2**62, "not a count"),
        ("history", {"cycle": 1}, "history is not a list"),
        ("history", [{"cycle": "x"}], "not a cycle's record"),
        ("optimizer", [b"bytes"], "optimizer state is not a list of arrays"),
        ("optimizer", "adam", "optimizer state is not a list of arrays"),
        ("image_name", 42, "image_name is not a file name"),
        ("image", np.zeros((0, 0, 3), np.uint8), "image is not an RGB picture"),
        ("image", np.zeros((4, 4), np.uint8), "image is not an RGB picture"),
        ("dividers", "lines", "dividers are not a list of groups"),
        ("dividers", [], "dividers are not a list of groups"),
        ("dividers", [{"type": "hexagons", "arrays": ARRAYS}], "group of unknown type 'hexagons'"),
        ("dividers", [{"type": "circular", "arrays": ARRAYS}], "hold circles, but its config says linear"),
        ("dividers", [{"type": "linear", "arrays": "a"}], "divider arrays is not a list of arrays"),
        ("colour_layers", ["a", "b"], "colour layers is not a list of arrays"),
        ("colour_layers", [np.zeros(2, np.float32)], "do not fit the network"),
        ("dividers", DROP, "it has no dividers"),
        ("image", DROP, "it has no image"),
    ],
)
def test_each_damaged_field_is_named(tmp_path, field, value, message):
    path = tmp_path / "m.pkl"
    checkpoint.save(path, damaged(field, value))
    with pytest.raises(CheckpointError, match=message):
        checkpoint.read(path)


def test_a_damaged_0_5_0_payload_names_its_weights(tmp_path):
    payload = real_payload()
    weights = payload.pop("dividers")[0]["arrays"] + payload.pop("colour_layers")
    path = tmp_path / "old.pkl"
    path.write_bytes(
        pickle.dumps(checkpoint._encode({"format": checkpoint.FORMAT, "version": 1, **payload, "weights": weights[1:]}))
    )
    with pytest.raises(CheckpointError, match="weights do not fit the network"):
        checkpoint.read(path)
    path.write_bytes(pickle.dumps(checkpoint._encode({"format": checkpoint.FORMAT, "version": 1, **payload})))
    with pytest.raises(CheckpointError, match="it has no weights"):
        checkpoint.read(path)


def test_weights_that_are_not_finite_are_refused(tmp_path):
    for bad in (np.nan, np.inf):
        p = real_payload()
        p["colour_layers"][0][0, 0] = bad
        path = tmp_path / "m.pkl"
        checkpoint.save(path, p)
        with pytest.raises(CheckpointError, match="colour layers holds values that are not finite"):
            checkpoint.read(path)


def test_shared_references_cannot_expand_a_small_file(tmp_path):
    # Ten references to the level below, thirty levels: 754 bytes that decode to 10**30 lists.
    level = []
    for _ in range(30):
        level = [level] * 10
    data = pickle.dumps({"format": "scalefree-checkpoint", "version": 1, "config": level})
    assert len(data) < 1000
    with pytest.raises(CheckpointError, match="shares one container"):
        checkpoint.loads(data)


def test_deep_nesting_is_refused_without_a_traceback():
    # A million nested lists, written opcode by opcode (pickle.dumps itself would recurse).
    def text(s):
        return b"X" + len(s).to_bytes(4, "little") + s.encode()

    n = 1_000_000
    data = (
        b"\x80\x02}("
        + text("format")
        + text("scalefree-checkpoint")
        + text("version")
        + b"K\x01"
        + text("config")
        + b"]" * n
        + b"a" * (n - 1)
        + b"u."
    )
    with pytest.raises(CheckpointError, match="nests deeper"):
        checkpoint.loads(data)


@pytest.mark.parametrize("version", ["1", None, -1, 2.5])
def test_odd_version_fields(version):
    data = pickle.dumps({"format": "scalefree-checkpoint", "version": version})
    with pytest.raises(CheckpointError, match="not a version number"):
        checkpoint.loads(data)


def test_a_huge_memo_index_is_refused_before_the_unpickler_allocates_for_it():
    # One byte inserted into a real checkpoint once made a LONG_BINPUT of 608192404:
    # the C unpickler then sized its memo table for it (gigabytes, 15 s).
    data = b"\x80\x05}r\x94\x0c\x40\x24(\x8c\x06format\x94\x8c\x14scalefree-checkpoint\x94u."
    with pytest.raises(CheckpointError, match="memo index out of range"):
        checkpoint.loads(data)
