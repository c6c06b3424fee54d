import os
import pickle

import numpy as np
import pytest

from scalefree import checkpoint
from scalefree.checkpoint import CheckpointError


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
    bad = {"format": "scalefree-checkpoint", "version": 1,
           "a": {"__ndarray__": ["<f4", [10], b"\x00" * 3]}}
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
