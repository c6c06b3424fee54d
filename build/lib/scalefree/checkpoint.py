"""Checkpoints: one `.pkl` holding weights, the input image, the config and history.

The file is a pickle of plain types only (dict, list, str, bytes, numbers).
Arrays are stored as (dtype, shape, raw bytes), so loading needs no class or
function from any module: the unpickler refuses every global, which is what
makes a crafted file unable to run code here.
"""

import io
import pickle

import numpy as np

from .atomic import atomic_path
from .errors import UserError

FORMAT = "scalefree-checkpoint"
VERSION = 1
_DTYPES = {"<f4", "<f8", "|u1", "<i4", "<i8"}


class CheckpointError(UserError):
    """A checkpoint that cannot be read; the message is meant for the user."""


def _encode(value):
    if isinstance(value, np.ndarray):
        value = np.ascontiguousarray(value)
        if value.dtype.str not in _DTYPES:
            value = value.astype(np.float32)
        return {"__ndarray__": [value.dtype.str, list(value.shape), value.tobytes()]}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return _decode_array(value["__ndarray__"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _decode_array(fields):
    try:
        dtype, shape, data = fields
        if dtype not in _DTYPES or not isinstance(data, bytes):
            raise ValueError(dtype)
        return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
    except (TypeError, ValueError):
        raise CheckpointError("a stored array is damaged") from None


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise CheckpointError(
            f"it asks to load {module}.{name}, which a scalefree checkpoint never does; "
            "refusing to read it")


def dumps(payload):
    return pickle.dumps(_encode({"format": FORMAT, "version": VERSION, **payload}), protocol=5)


def loads(data):
    """The payload of a checkpoint's bytes; CheckpointError for anything else."""
    try:
        raw = _PlainUnpickler(io.BytesIO(data)).load()
    except CheckpointError:
        raise
    except Exception as err:  # any damage surfaces as some exception from pickle
        raise CheckpointError(f"it is truncated or corrupt ({type(err).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError("it is not a scalefree checkpoint")
    if raw.get("version", 0) > VERSION:
        raise CheckpointError(f"it was written by a newer scalefree (format {raw['version']})")
    return _decode(raw)


def save(path, payload):
    """Write atomically: a crash mid-save leaves the previous checkpoint whole."""
    data = dumps(payload)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def load(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise CheckpointError(f"cannot read model file {path}: {err.strerror or err}") from None
    try:
        return loads(data)
    except CheckpointError as err:
        raise CheckpointError(f"cannot load model file {path}: {err}") from None
