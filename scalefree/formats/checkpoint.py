"""Checkpoints: one `.pkl` holding a model with its photo, its config and its history.

Two layers. The codec (`dumps`/`loads`, `save`/`load`) turns a payload of
plain values and arrays into bytes and back. The file is a pickle of plain
types only (dict, list, str, bytes, numbers); arrays are stored as (dtype,
shape, raw bytes), so loading needs no class or function from any module:
the unpickler refuses every global, which is what makes a crafted file
unable to run code here. Decoding is budgeted (depth, containers, bytes) and
refuses containers shared by reference, which an honest checkpoint never
has and which would let a few hundred bytes expand into gigabytes.

`to_payload` and `from_payload` say what a checkpoint holds, field by field:
the one place that writes a payload from a Model and the one place that
checks a payload read back, whole, before a Model is built from it.
"""

import io
import math
import pickle
import pickletools

import numpy as np

from ..config import Config, ConfigError, shown
from ..errors import UserError
from ..history import CycleResult, History
from ..model import ColourLayers, Model, TrainingState
from ..shapes import kind_of
from .atomic import OutputError, atomic_path
from .images import MAX_FILE_PIXELS
from .photofile import PhotoFile
from .streams import NotAFile, read_bytes

FORMAT = "scalefree-checkpoint"
# 1 (scalefree 0.5): the network's weights as one list, its layout given by the config.
# 2: the model's groups of units, each with its type and arrays, and the colour layers.
VERSION = 2
_DTYPES = {"<f4", "<f8", "|u1", "<i4", "<i8"}

# Decoding budgets, far above what an honest checkpoint holds (depth 4, a
# few containers per cycle of history, the image and weights as bytes).
MAX_DEPTH = 32
MAX_CONTAINERS = 1 << 24
MAX_ARRAY_BYTES = 1 << 33
# An image larger than this was not written by scalefree (see images.MAX_PIXELS).
MAX_IMAGE_PIXELS = 1 << 30
# The largest checkpoint file read: its image and weights, as the limits above allow.
MAX_BYTES = 3 * MAX_IMAGE_PIXELS + (1 << 30)
_MAX_COUNT = 1 << 53  # cycles, epochs: beyond exact float and any real run


class CheckpointError(UserError):
    """A checkpoint that cannot be read; the message is meant for the user."""


def _encode(value):
    if isinstance(value, np.ndarray):
        # ascontiguousarray alone makes a 0-d array (a step count) 1-d.
        value = np.ascontiguousarray(value).reshape(value.shape)
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


class _Decoder:
    """Plain values back to arrays, within the budgets above."""

    def __init__(self):
        self.containers = 0
        self.array_bytes = 0
        self.seen = set()

    def decode(self, value, depth=0):
        if not isinstance(value, (dict, list)):
            return value
        if depth > MAX_DEPTH:
            raise CheckpointError(f"it nests deeper than {MAX_DEPTH} levels, which a checkpoint never does")
        if id(value) in self.seen:
            raise CheckpointError("it shares one container in several places, which a checkpoint never does")
        self.seen.add(id(value))
        self.containers += 1
        if self.containers > MAX_CONTAINERS:
            raise CheckpointError(f"it holds more than {MAX_CONTAINERS} containers")
        if isinstance(value, list):
            return [self.decode(v, depth + 1) for v in value]
        if set(value) == {"__ndarray__"}:
            return self.array(value["__ndarray__"])
        return {k: self.decode(v, depth + 1) for k, v in value.items()}

    def array(self, fields):
        try:
            dtype, shape, data = fields
            if dtype not in _DTYPES or not isinstance(data, bytes) or not isinstance(shape, list):
                raise ValueError(dtype)
            if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
                raise ValueError(shape)
            self.array_bytes += len(data)
            if self.array_bytes > MAX_ARRAY_BYTES:
                raise CheckpointError(f"its arrays hold more than {MAX_ARRAY_BYTES} bytes")
            return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
        except (TypeError, ValueError):
            raise CheckpointError("a stored array is damaged") from None


# Opcodes that build plain values (any protocol). Everything else (globals,
# reduce, build, persistent ids, extensions, out-of-band buffers) is refused
# before the unpickler runs.
_PLAIN_OPCODES = {
    "PROTO",
    "FRAME",
    "STOP",
    "MARK",
    "POP",
    "POP_MARK",
    "DUP",
    "NONE",
    "NEWTRUE",
    "NEWFALSE",
    "INT",
    "BININT",
    "BININT1",
    "BININT2",
    "LONG",
    "LONG1",
    "LONG4",
    "FLOAT",
    "BINFLOAT",
    "STRING",
    "BINSTRING",
    "SHORT_BINSTRING",
    "UNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE",
    "BINUNICODE8",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
    "EMPTY_LIST",
    "LIST",
    "APPEND",
    "APPENDS",
    "EMPTY_DICT",
    "DICT",
    "SETITEM",
    "SETITEMS",
    "EMPTY_TUPLE",
    "TUPLE",
    "TUPLE1",
    "TUPLE2",
    "TUPLE3",
    "MEMOIZE",
    "PUT",
    "BINPUT",
    "LONG_BINPUT",
    "GET",
    "BINGET",
    "LONG_BINGET",
}
_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


def _check_opcodes(data):
    """Refuse a pickle that would run code or make the unpickler allocate far beyond its size.

    The C unpickler sizes its memo table by the largest index it is asked to
    store at: one byte changed in a checkpoint made it allocate gigabytes.
    Honest picklers number memo entries in order, so an index may not exceed
    the count of opcodes read so far.
    """
    try:
        for count, (op, arg, _) in enumerate(pickletools.genops(data)):
            if op.name not in _PLAIN_OPCODES:
                raise CheckpointError(
                    f"it asks the reader to run code ({op.name}), which a scalefree checkpoint never does; "
                    "refusing to read it"
                )
            if op.name in _MEMO_PUTS and not (isinstance(arg, int) and 0 <= arg <= count):
                raise CheckpointError("it is truncated or corrupt (a memo index out of range)")
    except CheckpointError:
        raise
    except Exception as err:  # pickletools says what it could not parse in several ways
        raise CheckpointError(f"it is truncated or corrupt ({type(err).__name__})") from None


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise CheckpointError(
            f"it asks to load {module}.{name}, which a scalefree checkpoint never does; refusing to read it"
        )

    def persistent_load(self, pid):
        raise CheckpointError("it refers to outside objects, which a scalefree checkpoint never does")


def dumps(payload):
    return pickle.dumps(_encode({"format": FORMAT, "version": VERSION, **payload}), protocol=5)


def loads(data):
    """The payload of a checkpoint's bytes; CheckpointError for anything else."""
    # Every checkpoint is a pickle of protocol 2 or later, which opens with PROTO: anything else
    # (an image, a text) is not one, whatever its bytes would mean to the unpickler.
    if not data[:1] == b"\x80":
        raise CheckpointError("it is not a scalefree checkpoint")
    _check_opcodes(data)
    try:
        raw = _PlainUnpickler(io.BytesIO(data)).load()
    except CheckpointError:
        raise
    except Exception as err:  # any damage surfaces as some exception from pickle
        raise CheckpointError(f"it is truncated or corrupt ({type(err).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise CheckpointError("it is not a scalefree checkpoint")
    version = raw.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise CheckpointError(f"its format version {shown(version)} is not a version number")
    if version > VERSION:
        raise CheckpointError(f"it was written by a newer scalefree (format {version})")
    return _Decoder().decode(raw)


def save(path, payload):
    """Write atomically: a crash mid-save leaves the previous checkpoint whole.

    Pickled straight into the file, not into a bytes object first: on a huge
    image that copy would be as large as the image.
    """
    encoded = _encode({"format": FORMAT, "version": VERSION, **payload})
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump(encoded, f, protocol=5)


def load(path):
    try:
        data = read_bytes(path, MAX_BYTES, "model file")
    except NotAFile as err:
        raise CheckpointError(str(err)) from None
    except OSError as err:
        raise CheckpointError(f"cannot read model file {path}: {err.strerror or err}") from None
    except MemoryError:
        raise CheckpointError(f"cannot read model file {path}: it does not fit in memory") from None
    try:
        return loads(data)
    except CheckpointError as err:
        raise CheckpointError(f"cannot load model file {path}: {err}") from None


def _count(payload, name):
    value = payload.get(name, 0)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < _MAX_COUNT:
        raise CheckpointError(f"its {name} is {shown(value)}, not a count")
    return value


def _arrays(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, list) and allow_none:
        # Scalars of the optimizer (its step count) were stored as plain numbers.
        value = [np.asarray(a) if isinstance(a, (int, float)) and not isinstance(a, bool) else a for a in value]
    if not isinstance(value, list) or not all(isinstance(a, np.ndarray) for a in value):
        raise CheckpointError(f"its {name} is not a list of arrays")
    if not all(a.dtype.kind in "fiu" and (a.dtype.kind != "f" or np.isfinite(a).all()) for a in value):
        raise CheckpointError(f"its {name} holds values that are not finite numbers")
    return value


def _history(items):
    if not isinstance(items, list):
        raise CheckpointError("its history is not a list")
    names = {"cycle", "loss", "psnr", "seconds", "pixels_per_second", "epochs"}
    for item in items:
        if (
            not isinstance(item, dict)
            or set(item) != names
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item.values())
        ):
            raise CheckpointError("its history holds an entry that is not a cycle's record")
        if any(math.isnan(v) for v in item.values()):
            raise CheckpointError("its history holds a cycle with values that are not numbers")
    return History([CycleResult(**item) for item in items])


def _photo_file(fields):
    """The PhotoFile a checkpoint records its photo by, its fields checked (the file itself is not touched)."""
    if set(fields) != {"path", "height", "width", "sha256"}:
        raise CheckpointError("its image is neither a picture nor a photo's file")
    path, sha256 = fields["path"], fields["sha256"]
    sizes = fields["height"], fields["width"]
    if not isinstance(path, str) or not 0 < len(path) <= 4096 or "\0" in path:
        raise CheckpointError("its image's path is not a file name")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
        raise CheckpointError("its image's size is not a size in pixels")
    if sizes[0] * sizes[1] > MAX_FILE_PIXELS:
        raise CheckpointError(f"its image has more than {MAX_FILE_PIXELS} pixels")
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise CheckpointError("its image's SHA-256 is not one")
    return PhotoFile(path, *sizes, sha256)


def to_payload(model):
    """The payload of a model that holds its training state (Model.training)."""
    t = model.training
    image = t.image
    if isinstance(image, PhotoFile):
        # A large photo is recorded by its file, not stored: resuming finds it and checks its hash.
        image = {"path": image.path, "height": image.height, "width": image.width, "sha256": image.sha256}
    return {
        "config": t.config.to_dict(),
        "image": image,
        "image_name": t.image_name,
        "cycle": t.cycle,
        "epoch": t.epoch,
        "dividers": [{"type": group.type, "arrays": list(group.arrays)} for group in model.dividers],
        "colour_layers": list(model.colour_layers.arrays),
        "optimizer": t.optimizer,
        "history": t.history.to_list(),
    }


def from_payload(payload):
    """Check every field, then build the Model; CheckpointError names the first field that is wrong."""
    version = payload.get("version", 1)
    for name in ("config", "image", "image_name") + (("weights",) if version < 2 else ("dividers", "colour_layers")):
        if name not in payload:
            raise CheckpointError(f"it has no {name}")
    try:
        config = Config.from_dict(payload["config"]).validate()
    except (ConfigError, TypeError) as err:
        raise CheckpointError(f"its config is unusable: {err}") from None
    image = payload["image"]
    if isinstance(image, dict):
        image = _photo_file(image)
    elif not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] >= 1
        and image.shape[1] >= 1
    ):
        raise CheckpointError("its image is not an RGB picture")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise CheckpointError(f"its image has more than {MAX_IMAGE_PIXELS} pixels")
    name = payload["image_name"]
    if not isinstance(name, str) or not 0 < len(name) <= 4096 or "\0" in name:
        raise CheckpointError("its image_name is not a file name")
    weights = _weights(payload, config, version)
    training = TrainingState(
        config=config,
        image=image,
        image_name=name,
        cycle=_count(payload, "cycle"),
        epoch=_count(payload, "epoch"),
        optimizer=_arrays(payload.get("optimizer"), "optimizer state", allow_none=True),
        history=_history(payload.get("history", [])),
    )
    groups, colour_layers = weights
    return Model(groups, ColourLayers(*colour_layers), image.shape[:2], config.sharpness, training)


def _weights(payload, config, version):
    """(the groups of units, the colour layers' arrays), checked against the network the config describes.

    A mixed model's groups are lines and circles in any counts that add up to its N; every other
    model's, one group of its config's kind.
    """
    kinds = config.kind.members()
    if version < 2:
        weights = _arrays(payload["weights"], "weights")
        if len(kinds) > 1:
            raise CheckpointError(f"a version 1 checkpoint cannot hold {config.type} dividers")
        count = len(config.kind.array_shapes(0))
        typed = [(config.kind, weights[:count])]
        colour = weights[count:]
    else:
        groups = payload["dividers"]
        if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
            raise CheckpointError("its dividers are not a list of groups")
        typed = []
        for group in groups:
            try:
                kind = kind_of(group.get("type"))
            except (ValueError, TypeError):
                kind = None
            if kind is None or kind.members() != (kind,):  # "mixed" names a model, never a group
                raise CheckpointError(f"its dividers hold a group of unknown type {shown(group.get('type'))}")
            if kind not in kinds:
                raise CheckpointError(f"its dividers hold {kind.name}, but its config says {config.type}")
            typed.append((kind, _arrays(group.get("arrays"), "divider arrays")))
        colour = _arrays(payload["colour_layers"], "colour layers")
    shapes = [tuple(a.shape) for _, arrays in typed for a in arrays] + [tuple(a.shape) for a in colour]
    sizes = [_units(kind, arrays) for kind, arrays in typed]
    n, m = config.n_dividers, config.n_hidden
    expected = [s for (kind, _), k in zip(typed, sizes) for s in kind.array_shapes(k)] + [(n, m), (m,), (m, 3), (3,)]
    if len({kind for kind, _ in typed}) < len(typed) or min(sizes) < 1 or sum(sizes) != n or shapes != expected:
        raise CheckpointError(
            f"its weights do not fit the network its config describes "
            f"({shown(shapes, 80)} for {config.type} {config.n_dividers}/{config.n_hidden})"
        )
    return [kind(*arrays) for kind, arrays in typed], colour


def _units(kind, arrays):
    """How many units a group's arrays hold (-1 if they cannot be a group of `kind`)."""
    axis = kind.unit_axes[0]
    return arrays[0].shape[axis] if arrays and arrays[0].ndim > axis else -1


def write(model, path):
    """Save atomically; an OS failure (a full disk) is an OutputError and leaves the old file."""
    try:
        save(path, to_payload(model))
    except OSError as err:
        raise OutputError(
            f"cannot save the model to {path}: {err.strerror or err}; the previous checkpoint there is kept"
        ) from None


def read(path):
    """The Model a checkpoint holds, with its training state; CheckpointError for anything else."""
    payload = load(path)
    try:
        return from_payload(payload)
    except CheckpointError as err:
        raise CheckpointError(f"cannot load model file {path}: {err}") from None
