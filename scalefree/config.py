"""One config object for the network and the run, stored in every checkpoint.

Resume rule: the architecture fields (ARCHITECTURE) come from the checkpoint,
because the stored weights only fit the network they were trained in; every
other field is a run-time knob, taken from the checkpoint unless the user
typed it on the command line. Typing an architecture field that disagrees
with the checkpoint is an error, not a silent rebuild.

This module imports neither TensorFlow nor Keras, so `--help` stays fast.
"""

import dataclasses
import math
import os
from dataclasses import dataclass

from .errors import UserError

DIVIDER_TYPES = ("linear", "circular", "relu")
OPTIMIZERS = ("adam", "adadelta", "sgd")
INITS = ("edges", "residual", "combined", "random")

ARCHITECTURE = ("type", "n_dividers", "n_hidden")

# The false gradient's steepness when none is given. It sets how far from a
# divider pixels still pull on it. Circles had 10 (their E is relative to the
# radius); measured again with residual placement and moving circles, 20 gave
# 32 circles +0.08 to +0.38 dB and 128 circles +0.32 to +0.38 dB at 60 s on
# four tuning photos (seed 0). Lines had measured best at 20 already.
GRADIENT_SHARPNESS = {"linear": 20.0, "circular": 20.0, "relu": 20.0}

# Where dividers start when --init is not given (measured on six photos, 20 s
# each: for 32 circles the residual search gained 1.1 dB over edges on every
# photo; for lines it lost 0.3 dB at 32 and tied at 128).
PLACEMENT = {"linear": "edges", "circular": "combined", "relu": "random"}

# How often the least useful dividers move, when --replace_every is not given
# (six photos, 20 s: circles gained 0.1-1.5 dB at N = 32 and 128).
REPLACE_EVERY = {"linear": 0, "circular": 20, "relu": 0}

# Pixels trained on when -p is not given: a larger photo is shrunk to about
# this many. Beyond it an epoch costs more time than the extra detail gives
# back to N dividers (measured on a 12-megapixel photo: see README).
PIXEL_BUDGET = 1 << 18


# Sizes no honest run reaches; above them a typed or stored value would only
# make TensorFlow try to allocate what the machine does not have.
LIMITS = {
    "n_dividers": 1 << 16,
    "n_hidden": 1 << 16,
    "batch_size": 1 << 24,
    "epochs_per_cycle": 1 << 20,
    "cycles": 1 << 40,
    "lr_decay_steps": 1 << 40,
    "pixel_budget": 1 << 34,
    "replace_every": 1 << 30,
    "replace_until": 1 << 40,
    "replace_share": 1,
    "seed": (1 << 63) - 1,
}
# Weights of the two dense layers together, N x M at most.
MAX_WEIGHTS = 1 << 26
# The largest PNG render or frame, in pixels (16384 x 16384, 800 MB as RGB)
# unless --max_render_pixels says otherwise.
RENDER_PIXEL_LIMIT = 1 << 28
_TEXT_FIELDS = ("type", "optimizer", "init")
_INT_FIELDS = (
    "n_dividers",
    "n_hidden",
    "batch_size",
    "epochs_per_cycle",
    "cycles",
    "lr_decay_steps",
    "pixel_budget",
    "seed",
    "replace_every",
    "replace_until",
)
_OPTIONAL = ("seed", "gradient_sharpness", "downscale", "init", "replace_every")


def shown(value, limit=40):
    """A value as an error message may show it: repr (control characters escaped), cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class ConfigError(UserError):
    """An option value that cannot work; the message is meant for the user."""


@dataclass
class Config:
    # Architecture.
    type: str = "linear"
    n_dividers: int = 128
    n_hidden: int = 32
    # Divider activation; may change on resume (no weight depends on it).
    sharpness: float = 1000.0
    gradient_sharpness: float | None = None  # None: GRADIENT_SHARPNESS[type]
    # Training.
    init: str | None = None  # None: PLACEMENT[type]
    # Every this many epochs (0: never; None: REPLACE_EVERY[type]), up to epoch
    # replace_until, the replace_share of dividers that matter least move to
    # where the error is largest.
    replace_every: int | None = None
    replace_until: int = 200
    replace_share: float = 0.0625
    optimizer: str = "adam"
    learning_rate: float = 0.004
    divider_lr_scale: float = 0.125
    lr_decay_steps: int = 10000
    batch_size: int = 256
    epochs_per_cycle: int = 1
    cycles: int = 0
    downscale: float | None = None  # None: shrink to pixel_budget if larger
    pixel_budget: int = PIXEL_BUDGET
    seed: int | None = None
    max_seconds: float = 0.0
    target_psnr: float = 0.0
    # Rendering of frames and images.
    disp_mult: float = 1.0
    border: float = 0.0

    def validate(self):
        """Raise ConfigError naming the first option that cannot work."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in _OPTIONAL:
                continue
            kind = str if f.name in _TEXT_FIELDS else int if f.name in _INT_FIELDS else (int, float)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError(f"--{f.name} has an unusable value {shown(value)}")
            if kind is not str and not math.isfinite(value):
                raise ConfigError(f"--{f.name} must be a finite number, got {value}")
            if f.name in LIMITS and abs(value) > LIMITS[f.name]:
                raise ConfigError(f"--{f.name} {value} is more than scalefree allows ({LIMITS[f.name]})")
        if self.type not in DIVIDER_TYPES:
            raise ConfigError(f"unknown type {shown(self.type)}: choose one of {', '.join(DIVIDER_TYPES)}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {shown(self.optimizer)}: choose one of {', '.join(OPTIMIZERS)}")
        if self.init is not None and self.init not in INITS:
            raise ConfigError(f"unknown init {shown(self.init)}: choose one of {', '.join(INITS)}")
        positive = (
            "n_dividers",
            "n_hidden",
            "batch_size",
            "epochs_per_cycle",
            "sharpness",
            "gradient_sharpness",
            "learning_rate",
            "divider_lr_scale",
            "downscale",
            "pixel_budget",
            "disp_mult",
        )
        for name in positive:
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ConfigError(f"--{name} must be greater than 0, got {getattr(self, name)}")
        for name in (
            "cycles",
            "border",
            "max_seconds",
            "target_psnr",
            "lr_decay_steps",
            "replace_every",
            "replace_until",
            "replace_share",
        ):
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise ConfigError(f"--{name} must not be negative, got {getattr(self, name)}")
        if self.n_hidden * max(self.n_dividers, 3) > MAX_WEIGHTS:
            raise ConfigError(
                f"-d {self.n_dividers} with -n {self.n_hidden} makes more weights than scalefree allows ({MAX_WEIGHTS})"
            )
        return self

    def weight_shapes(self):
        """Shapes of the network's weights, in Keras order: what a stored model must hold."""
        n, m = self.n_dividers, self.n_hidden
        dividers = [(2, n), (n,)] if self.type == "relu" else [(n, 2), (n,)]
        return dividers + [(n, m), (m,), (m, 3), (3,)]

    @property
    def replacement_period(self):
        if self.type == "relu":
            return 0
        return self.replace_every if self.replace_every is not None else REPLACE_EVERY[self.type]

    @property
    def placement(self):
        return self.init if self.init is not None else PLACEMENT[self.type]

    @property
    def places_dividers(self):
        """Whether a new model starts its dividers where init.py places them, not at random."""
        return self.type != "relu" and self.placement != "random"

    @property
    def effective_gradient_sharpness(self):
        if self.gradient_sharpness is not None:
            return self.gradient_sharpness
        return GRADIENT_SHARPNESS.get(self.type, 20.0)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Build from stored values, ignoring keys this version does not know (not validated)."""
        if not isinstance(values, dict):
            raise ConfigError(f"the stored config is a {type(values).__name__}, not a mapping")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def merged(self, typed):
        """This (stored) config with the options the user typed applied over it."""
        for name in ARCHITECTURE:
            if name in typed and typed[name] != getattr(self, name):
                raise ConfigError(
                    f"--{name} {typed[name]} does not fit the stored network "
                    f"(it has {name} {getattr(self, name)}); start a new model instead"
                )
        return dataclasses.replace(self, **typed)


def new_seed():
    """A seed for a run that was given none."""
    return int.from_bytes(os.urandom(4), "little") % 2**31


def field_names():
    return [f.name for f in dataclasses.fields(Config)]
