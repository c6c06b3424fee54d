"""A run: the model, the image it learns and where its outputs go.

`RunOptions` holds what the command line asks of a run besides the model's
own settings (the Config): where to read and write, what to export, whether
to show a window. `Run` resolves both against a stored checkpoint, reads the
photo and works out the training size and file names.
"""

import dataclasses
import os
import shlex

from . import distribute, paths
from .atomic import OutputError
from .checkpoint import Checkpoint
from .config import RENDER_PIXEL_LIMIT, Config, ConfigError, field_names
from .coords import output_shape
from .images import BUNDLED_IMAGE, downscale, read_bundled_image, read_image, working_factor

UNIT_NAMES = {"linear": "lines", "circular": "circles", "relu": "relu units"}
# Exports of a saved model: option -> (what it writes, the extension its file must have).
EXPORTS = {"svg": ("partition", ".svg"), "html": ("page", ".html")}


@dataclasses.dataclass
class RunOptions:
    """The run's knobs; None where the user gave none (then the run decides)."""

    model_file: str | None = None
    input_image: str | None = None
    output_dir: str | None = None
    overwrite: bool = False
    save_frames: str | None = None
    just_image: bool = False
    output: str | None = None
    svg: str | None = None
    html: str | None = None
    hard: bool = False
    show: bool = False
    no_display: bool = False
    max_render_pixels: int = RENDER_PIXEL_LIMIT
    strategy: str = "default"

    @classmethod
    def split(cls, typed):
        """The typed options as (RunOptions, the Config fields the user typed); others (--verbose) are dropped."""
        knobs = {f.name for f in dataclasses.fields(cls)}
        config = set(field_names())
        return cls(**{k: v for k, v in typed.items() if k in knobs}), {k: v for k, v in typed.items() if k in config}

    def exports(self):
        """The exports asked for, as (option, path), after checking they can be made."""
        asked = [(option, getattr(self, option)) for option in EXPORTS if getattr(self, option) is not None]
        for option, path in asked:
            what, ext = EXPORTS[option]
            if not self.just_image:
                raise ConfigError(f"--{option} writes a saved model's {what}: use it with --just_image -m MODEL.pkl")
            if not path.lower().endswith(ext):
                raise ConfigError(f"--{option} {path}: the file name should end in {ext}")
        return asked


def quoted(path):
    """A path as it can be pasted into a shell (bytes that are not UTF-8 shown as \\x escapes)."""
    return shlex.quote(os.fsencode(str(path)).decode("utf-8", "backslashreplace"))


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def ensure_writable(directory, what):
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {what} {quoted(directory)}: {err.strerror or err}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {quoted(directory)} is not writable")


class Run:
    """A model, the image it learns and where its outputs go.

    The photo is kept whole; training sees `train_image`, the photo shrunk by
    -p or, by default, to about `pixel_budget` pixels. Both span the same
    plane, so the model covers the whole photo and renders at its own size.
    `config_typed` are the Config fields the user typed: they win over a
    stored checkpoint's (the resume rule, Config.merged).
    """

    def __init__(self, options=None, config_typed=None):
        self.options = options = options or RunOptions()
        config_typed = config_typed or {}
        distribute.check(options.strategy)
        # In a cluster only the chief writes files; the other workers train alongside it.
        self.is_chief = distribute.is_chief(options.strategy)
        # Given no --seed, the processes of a cluster still need one seed between them.
        self.shared_seed = distribute.shared_seed(options.strategy)
        self.output_dir = options.output_dir or paths.DEFAULT_OUTPUT_DIR
        self.frames_dir = options.save_frames
        self.stored = None
        if options.model_file is not None:
            self.stored = Checkpoint.read(options.model_file)
            self.image = self.stored.image
            self.image_name = self.stored.image_name
            self.cycle = self.stored.cycle
            self.config = self.stored.config.merged(config_typed)
        else:
            self.config = Config(**config_typed)
            self.image = None
            self.image_name = None
            self.cycle = 0
        self.config.validate()
        if options.input_image is not None:
            self.image = read_image(options.input_image)
            self.image_name = os.path.basename(options.input_image)
        elif self.image is None:
            self.image = read_bundled_image()
            self.image_name = BUNDLED_IMAGE
        self.factor = working_factor(*self.photo_size, self.config.downscale, self.config.pixel_budget)
        self.train_image = downscale(self.image, self.factor)
        if self.stored is not None and options.output_dir is None:
            # A resumed run goes on updating the file it came from.
            self.checkpoint_path = options.model_file
            self.output_dir = os.path.dirname(os.path.abspath(self.checkpoint_path))
        else:
            self.checkpoint_path = paths.checkpoint_path(self.output_dir, self.image_name, self.config, self.size)

    @property
    def size(self):
        """(height, width) of the training picture."""
        return self.train_image.shape[:2]

    @property
    def photo_size(self):
        """(height, width) of the photo itself: renders, frames and SVG default to it."""
        return self.image.shape[:2]

    @property
    def name(self):
        """The run's name in output files: image, training size, type, N and M."""
        return paths.run_name(self.image_name, self.config, self.size)

    def check_render_size(self, mult, what="render"):
        """Refuse, before any work, a render or frame larger than --max_render_pixels."""
        limit = self.options.max_render_pixels
        out_h, out_w = output_shape(*self.photo_size, mult)
        if out_h * out_w > limit:
            raise ConfigError(
                f"a {what} at -x {mult:g} is {out_w}x{out_h} ({out_w * out_h / 1e6:.0f} megapixels), "
                f"more than --max_render_pixels {limit}; raise it to draw it anyway"
            )

    def refuse_overwrite(self):
        """A new run never replaces a model it did not start from."""
        resumed_in_place = self.stored is not None and self.checkpoint_path == self.options.model_file
        if resumed_in_place or self.options.overwrite or not os.path.exists(self.checkpoint_path):
            return
        path = quoted(self.checkpoint_path)
        raise ConfigError(f"{path} exists already: resume it with -m {path}, or add --overwrite to start it afresh")

    def trainer(self, strategy=None, dividers=None, seed=None):
        """The run's Trainer: the stored model, or a new one (its dividers placed already, or placed now)."""
        from .train import Trainer  # TensorFlow loads here, not for --help

        strategy = strategy or distribute.strategy(self.options.strategy)
        s = self.stored
        seed = seed if seed is not None else self.shared_seed
        if s is None:
            return Trainer(self.config, self.train_image, strategy=strategy, dividers=dividers, seed=seed)
        return Trainer(self.config, self.train_image, s.weights, s.optimizer, s.epoch, strategy, seed=seed)


def render_run(run, trainer, mult, border, hard=False, at_training_size=False):
    """The run's picture at `mult` x the photo's size (or the training size), widened by `border`.

    Line and circle models render by their partition (hard edges, one colour
    a region, fast at any size) when asked or when the render has more
    pixels than training saw, where the trained tanh would blur edges;
    otherwise by evaluating the network, which is exactly what training sees.
    """
    from .model import partition_weights
    from .render import render, render_partition

    h, w = run.size if at_training_size else run.photo_size
    out_h, out_w = output_shape(h, w, mult)
    train_h, train_w = run.size
    if run.config.type != "relu" and (hard or out_h * out_w > train_h * train_w):
        return render_partition(run.config.type, *partition_weights(trainer.model), h, w, mult, border)
    return render(trainer.predict, h, w, mult, border)
