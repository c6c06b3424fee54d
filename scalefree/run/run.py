"""A run: the model to train or render, the photo it learns, and where its outputs go.

`Run.open` resolves the options against a stored checkpoint (the resume rule,
Config.merged), reads the photo and works out the training size and file
names; the Run it returns is not changed afterwards.
"""

import dataclasses
import functools
import os
import shlex
from dataclasses import dataclass

import numpy as np

from ..config import Config, ConfigError
from ..formats import checkpoint, paths
from ..formats.atomic import OutputError
from ..formats.images import BUNDLED_IMAGE, ImageError, open_photo, read_bundled_image
from ..formats.photofile import LARGE_PIXELS, PhotoFile, PhotoFileError
from ..plane.coords import output_shape
from ..plane.pictures import downscale, shrunk_size, working_factor
from ..plane.placement import PLACEMENT_PIXELS
from . import cluster
from .options import RunOptions

# A training picture not held whole is looked at (placed on, shown, measured by exports) shrunk to this.
LOOK_PIXELS = 16 * PLACEMENT_PIXELS


def _sized_for_budget(config, typed, size):
    """The config with N and M chosen for its --max_bytes, where the user gave neither."""
    from ..formats.modeldata import shape_for_budget

    n, m = shape_for_budget(config.max_bytes, config.type, size, typed.get("n_dividers"), typed.get("n_hidden"))
    return dataclasses.replace(config, n_dividers=n, n_hidden=m)


def _training_picture(photo, factor, lazy=False):
    """The photo shrunk by `factor`: an array, or for a large PhotoFile at a large size (or `lazy`), a Picture."""
    if not isinstance(photo, PhotoFile):
        return downscale(photo, factor)
    height, width = shrunk_size(*photo.shape[:2], factor)
    try:
        if lazy or height * width > LARGE_PIXELS:
            return photo.at_size(height, width)
        return photo.resized(height, width)
    except PhotoFileError as err:
        raise ImageError(str(err)) from None


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


@dataclass(frozen=True)
class Run:
    """A model, the photo it learns and where its outputs go.

    The photo (`image`) is kept whole, or above LARGE_PIXELS known by its
    file (a PhotoFile); training sees `train_image`, the photo shrunk by -p
    or, by default, to about `pixel_budget` pixels: an array, or for a large
    one a Picture each worker reads its rows of. All span the same plane, so
    the model covers the whole photo and renders at its own size. `look` is
    the training picture as an array small enough to look at whole.
    `stored` is the Model of a resumed or rendered checkpoint.
    `checkpoint_path` is None when nothing is to be saved (a model fitted
    from Python without a file). In a cluster only the chief writes files.
    """

    options: RunOptions
    config: Config
    image: object
    image_name: str
    train_image: object
    factor: float
    checkpoint_path: str | None
    output_dir: str
    stored: object = None
    is_chief: bool = True
    shared_seed: int | None = None

    @classmethod
    def open(cls, options=None, config_typed=None, image=None, image_name=None, checkpoint_path="", model=None):
        """The run the options describe: its checkpoint and photo read, its sizes and file names worked out.

        `image` (an array) and `image_name` stand in for options.input_image,
        `model` (a Model with its training state) for options.model_file;
        `checkpoint_path` None writes no checkpoint, "" (the default) names
        it from the run (paths.checkpoint_path).
        """
        options = options or RunOptions()
        config_typed = config_typed or {}
        cluster.check(options.strategy, options.cluster_timeout)
        output_dir = options.output_dir or paths.DEFAULT_OUTPUT_DIR
        stored = model
        if options.model_file is not None:
            stored = checkpoint.read(options.model_file)
        if stored is not None:
            t = stored.training
            config, photo, name = t.config.merged(config_typed), t.image, t.image_name
        else:
            config, photo, name = Config(**config_typed), None, None
        config.validate()
        if image is not None:
            photo, name = image, image_name or "image.png"
        elif options.input_image is not None:
            photo, name = open_photo(options.input_image), os.path.basename(options.input_image)
        elif photo is None:
            photo, name = read_bundled_image(), BUNDLED_IMAGE
        elif isinstance(photo, PhotoFile) and not options.just_image:  # a render needs only the photo's size
            try:
                photo.check()  # a checkpoint that records its photo by path: still there, still the same?
            except PhotoFileError as err:
                raise ImageError(str(err)) from None
        factor = working_factor(*photo.shape[:2], config.downscale, config.pixel_budget)
        train_image = _training_picture(photo, factor, lazy=options.just_image)
        if stored is None and config.max_bytes is not None and config.kind.partitions:
            config = _sized_for_budget(config, config_typed, train_image.shape[:2])
        if checkpoint_path == "":
            if stored is not None and options.output_dir is None:
                # A resumed run goes on updating the file it came from.
                checkpoint_path = options.model_file
                output_dir = os.path.dirname(os.path.abspath(checkpoint_path))
            else:
                checkpoint_path = paths.checkpoint_path(output_dir, name, config, train_image.shape[:2])
        if cluster.resumes(options, stored, checkpoint_path):
            # A cluster started again after a fault goes on from its checkpoint, as TensorFlow's
            # fault-tolerant training does; --overwrite starts it afresh.
            resumed = dataclasses.replace(options, model_file=checkpoint_path)
            return cls.open(resumed, config_typed, image, image_name, checkpoint_path, model)
        return cls(
            options=options,
            config=config,
            image=photo,
            image_name=name,
            train_image=train_image,
            factor=factor,
            checkpoint_path=checkpoint_path,
            output_dir=output_dir,
            stored=stored,
            is_chief=cluster.is_chief(options.strategy),
            # Given no --seed, the processes of a cluster still need one seed between them.
            shared_seed=cluster.shared_seed(options.strategy),
        )

    @property
    def budget_note(self):
        """What a new run with --max_bytes chose, as a line; None without a budget."""
        from ..formats.modeldata import TYPICAL_WEIGHT_BITS, estimated_bytes

        c = self.config
        if self.stored is not None or c.max_bytes is None or not c.kind.partitions:
            return None
        about = estimated_bytes(c.type, c.n_dividers, c.n_hidden, self.size)
        return (
            f"for model data of at most {c.max_bytes:,} bytes: {c.n_dividers} {c.kind.name} and "
            f"{c.n_hidden} colour units (about {about:,} bytes at {TYPICAL_WEIGHT_BITS} bits a weight)"
        )

    @property
    def held(self):
        """Whether the training picture is an array (else a Picture, read a band at a time)."""
        return isinstance(self.train_image, np.ndarray)

    @functools.cached_property
    def look(self):
        """The training picture, or, when it is not held, the photo shrunk to look at whole (placement, window)."""
        return self.train_image if self.held else self.image.shrunk(LOOK_PIXELS)

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

    @property
    def cycle(self):
        """The cycle the run starts from: the stored model's, or 0."""
        return self.stored.training.cycle if self.stored is not None else 0

    @property
    def frames_dir(self):
        return self.options.save_frames

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
        path = self.checkpoint_path
        resumed_in_place = self.stored is not None and path == self.options.model_file
        if path is None or resumed_in_place or self.options.overwrite or not os.path.exists(path):
            return
        raise ConfigError(
            f"{quoted(path)} exists already: resume it with -m {quoted(path)}, or add --overwrite to start it afresh"
        )

    def render(self, model, mult, border, hard=False):
        """The model's picture at `mult` x the photo's size, widened by `border`.

        Line and circle models draw their partition (hard edges, one colour a
        region, fast at any size) when asked or when the render has more
        pixels than training saw, where the trained tanh would blur edges;
        otherwise the network's own function, exactly what training sees.
        """
        out_h, out_w = output_shape(*self.photo_size, mult)
        train_h, train_w = self.size
        return model.render(mult, border, hard=hard or out_h * out_w > train_h * train_w, size=self.photo_size)
