"""One config object for the network and the run, stored in every checkpoint.

Each field is one option, described once: its default here, its flags, help
and group in the field's metadata, from which the command line's parser is
built (scalefree.cli.parser). Defaults that depend on the kind of divider
(where they start, how often they move, the false gradient) live with the
kind, in scalefree.shapes, and a field left at None takes the kind's.

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
import typing
from dataclasses import dataclass

from .errors import UserError
from .shapes import KINDS, TYPES, kind_of
from .shapes.base import SHARPNESS

OPTIMIZERS = ("adam", "adadelta", "sgd")
INITS = ("edges", "residual", "combined", "random")

ARCHITECTURE = ("type", "n_dividers", "n_hidden")

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

WHAT, TRAINING, OUTPUT = "what to learn", "training", "output"


# -n auto: the colour units are chosen among these when the first model's regions are known (plane.colouring).
AUTO = "auto"
COLOUR_UNIT_CHOICES = (8, 16, 32, 64)


def colour_units(text):
    """-n's value: a number of colour units, or 'auto'."""
    return AUTO if text == AUTO else int(text)


def option(default, *flags, group, help, **parser):
    """A field that is a command-line option: `flags` besides --NAME, its `help` and `group`.

    `parser` holds what argparse needs beyond the field's type (choices,
    metavar, nargs, action). A field with default None shows no default in
    its help; its help says what None means.
    """
    return dataclasses.field(default=default, metadata={"flags": flags, "group": group, "help": help, "parser": parser})


def _by_kind(attribute):
    """A default that depends on the kind of divider, as help text: '20', or 'edges for lines, combined for circles'."""
    # A mixed model's defaults are its kinds' own (shapes.mixed).
    values = {k.name: getattr(k, attribute) for k in KINDS if k.partitions and k.members() == (k,)}
    text = {name: v if isinstance(v, str) else f"{v:g}" for name, v in values.items()}
    if len(set(text.values())) == 1:
        return next(iter(text.values()))
    return ", ".join(f"{value} for {name}" for name, value in text.items())


def shown(value, limit=40):
    """A value as an error message may show it: repr (control characters escaped), cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class ConfigError(UserError):
    """An option value that cannot work; the message is meant for the user."""


@dataclass
class Config:
    # Architecture.
    type: str = option(
        "linear",
        "-t",
        group=WHAT,
        metavar="TYPE",
        choices=TYPES + tuple(a for k in KINDS for a in k.aliases),
        help=f"divider units: {', '.join(TYPES)} (relu: plain dense units, a smooth baseline)",
    )
    n_dividers: int = option(
        128, "-d", group=WHAT, metavar="N", help="number of divider units (lines or circles), the first layer"
    )
    # 64, the first tool's default: at 60 s on the tuning photos 64 units trained 0.2 to 0.6 dB above 32
    # with 128 dividers, and were best or within 0.2 dB of the best M with 32 (bench/results/
    # 2026-12-02-colour-units.md).
    n_hidden: int = option(
        64,
        "-n",
        group=WHAT,
        metavar="M",
        type=colour_units,
        help="number of ReLU colour units, the second layer; 'auto': chosen from the first model's regions",
    )
    max_bytes: int | None = option(
        None,
        group=WHAT,
        metavar="BYTES",
        help="a budget for the model data file (.sfm, what the web viewer draws): a new run not given -d "
        "or -n chooses them to fit it and writes the file beside its checkpoint; --model_data and --html "
        "keep within it, at the precision that draws the photo best",
    )
    downscale: float | None = option(
        None,
        "-p",
        group=WHAT,
        help="shrink the image by this factor before training: faster, less detail; 1 trains on every "
        "pixel (default: a photo larger than --pixel_budget is shrunk to fit it)",
    )
    pixel_budget: int = option(
        PIXEL_BUDGET,
        group=WHAT,
        help="without -p, photos with more pixels than this train at a size that has about this many; "
        "renders, frames and SVG are still at the photo's own size",
    )
    # Training.
    epochs_per_cycle: int = option(
        1, "-e", group=TRAINING, help="epochs per cycle; after each cycle: log line, checkpoint, frame, window update"
    )
    cycles: int = option(0, "-c", group=TRAINING, help="cycles to run, 0 = until stopped")
    learning_rate: float = option(
        0.004,
        "-l",
        group=TRAINING,
        help="optimizer learning rate of the colour units (the dividers' is scaled by --divider_lr_scale)",
    )
    divider_lr_scale: float = option(
        0.125, group=TRAINING, help="the dividers' learning rate as a fraction of -l: they settle with smaller steps"
    )
    lr_decay_steps: int = option(
        10000, group=TRAINING, help="learning rates decay as lr / (1 + step / this), 0 = constant"
    )
    optimizer: str = option(
        "adam", group=TRAINING, choices=OPTIMIZERS, help=f"{', '.join(OPTIMIZERS)} (the first tool used adadelta)"
    )
    init: str | None = option(
        None,
        group=TRAINING,
        choices=INITS,
        help="where dividers start: on the image's edges; one by one where each lowers the error most "
        "(residual); the first 32 so and the rest on edges (combined); or at random as the first "
        f"tool did (default: {_by_kind('placement')})",
    )
    replace_every: int | None = option(
        None,
        group=TRAINING,
        help="every this many epochs, move the dividers that matter least to where the error is largest; "
        f"0 = never (default: {_by_kind('replace_every')})",
    )
    replace_until: int = option(200, group=TRAINING, help="the last epoch at which dividers are moved")
    replace_share: float = option(0.0625, group=TRAINING, help="the share of dividers moved each time (at least one)")
    batch_size: int = option(256, group=TRAINING, help="pixels per optimizer step")
    # Divider activation; may change on resume (no weight depends on it).
    sharpness: float = option(
        SHARPNESS, "-s", group=TRAINING, help="divider activation is tanh(sharpness * E): higher, harder region edges"
    )
    gradient_sharpness: float | None = option(
        None,
        "-g",
        group=TRAINING,
        help="false gradient: dividers learn through the slope of tanh(g * E); high values barely move "
        f"them, low values keep them from settling (default: {_by_kind('gradient_sharpness')})",
    )
    seed: int | None = option(None, group=TRAINING, help="random seed; the same seed gives the same run")
    max_seconds: float = option(
        0.0, group=TRAINING, help="stop after the cycle that passes this many seconds of training, 0 = no limit"
    )
    target_psnr: float = option(
        0.0, group=TRAINING, help="stop after the cycle that reaches this PSNR in dB, 0 = no target"
    )
    # Rendering of frames and images.
    disp_mult: float = option(1.0, "-x", group=OUTPUT, help="render size as a multiple of the photo's size")
    border: float = option(
        0.0,
        "-b",
        group=OUTPUT,
        help="widen the rendered region by (1 + BORDER) about the centre, to see how the function extrapolates",
    )

    def validate(self):
        """Raise ConfigError naming the first option that cannot work; the type's alias becomes its word."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and _optional(f):
                continue
            kind = _field_type(f)
            if f.name == "n_hidden" and value == AUTO:
                continue
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError(f"--{f.name} has an unusable value {shown(value)}")
            if kind is not str and not math.isfinite(value):
                raise ConfigError(f"--{f.name} must be a finite number, got {value}")
            if f.name in LIMITS and abs(value) > LIMITS[f.name]:
                raise ConfigError(f"--{f.name} {value} is more than scalefree allows ({LIMITS[f.name]})")
        try:
            self.type = kind_of(self.type).type
        except ValueError:
            raise ConfigError(f"unknown type {shown(self.type)}: choose one of {', '.join(TYPES)}") from None
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {shown(self.optimizer)}: choose one of {', '.join(OPTIMIZERS)}")
        if self.init is not None and self.init not in INITS:
            raise ConfigError(f"unknown init {shown(self.init)}: choose one of {', '.join(INITS)}")
        if self.init is not None and self.type == "mixed":
            raise ConfigError("--init does not apply to -t mixed: its placement chooses lines and circles itself")
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
            "max_bytes",
        )
        if self.n_hidden == AUTO:
            if not self.places_dividers:
                raise ConfigError("-n auto chooses the colour units from the dividers' regions: -t relu has none")
            if self.max_bytes is not None:
                raise ConfigError("--max_bytes chooses -n itself: give one or the other")
            positive = tuple(name for name in positive if name != "n_hidden")
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
        if self.colour_units_at_most * max(self.n_dividers, 3) > MAX_WEIGHTS:
            raise ConfigError(
                f"-d {self.n_dividers} with -n {self.n_hidden} makes more weights than scalefree allows ({MAX_WEIGHTS})"
            )
        return self

    @property
    def colour_units_at_most(self):
        """M, or with -n auto the most it may choose."""
        return max(COLOUR_UNIT_CHOICES) if self.n_hidden == AUTO else self.n_hidden

    @property
    def kind(self):
        """The class of the first layer's units (scalefree.shapes)."""
        return kind_of(self.type)

    def weight_shapes(self):
        """Shapes of the network's weights, in its order: what a stored model must hold."""
        n, m = self.n_dividers, self.n_hidden
        return self.kind.array_shapes(n) + [(n, m), (m,), (m, 3), (3,)]

    @property
    def replacement_period(self):
        if not self.kind.partitions:
            return 0
        return self.replace_every if self.replace_every is not None else self.kind.replace_every

    @property
    def placement(self):
        return self.init if self.init is not None else self.kind.placement

    @property
    def places_dividers(self):
        """Whether a new model's first layer is placed (plane.placement; at random too) and its colours fitted.

        Dense ReLU units (relu) are not placed: they start as Keras starts them.
        """
        return self.kind.partitions

    @property
    def effective_gradient_sharpness(self):
        if self.gradient_sharpness is not None:
            return self.gradient_sharpness
        return self.kind.gradient_sharpness

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
        if typed.get("n_hidden") == AUTO:
            # The stored model's colour units were chosen already: -n auto keeps them.
            typed = {k: v for k, v in typed.items() if k != "n_hidden"}
        for name in ARCHITECTURE:
            if name in typed and typed[name] != getattr(self, name):
                if name == "type" and kind_of(typed[name]).type == self.type:
                    continue
                raise ConfigError(
                    f"--{name} {typed[name]} does not fit the stored network "
                    f"(it has {name} {getattr(self, name)}); start a new model instead"
                )
        return dataclasses.replace(self, **typed)


def _optional(f):
    return type(None) in typing.get_args(f.type)


def value_type(f):
    """The type of a field's values: str, int or float (an int is a float's value too)."""
    return next((a for a in typing.get_args(f.type) if a is not type(None)), f.type)


def _field_type(f):
    kind = value_type(f)
    return (int, float) if kind is float else kind


def new_seed():
    """A seed for a run that was given none."""
    return int.from_bytes(os.urandom(4), "little") % 2**31


def field_names():
    return [f.name for f in dataclasses.fields(Config)]
