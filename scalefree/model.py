"""The learnt model as a value: its dividers, its colour layers, and one forward pass, in numpy.

f(x, y) = sigmoid(W2 relu(W1 d(x, y) + b1) + b2), where d(x, y) are the N
dividers' outputs: about -1 or +1 by which side of each line, or whether
inside each circle, the point lies (tanh(sharpness * E)). Two points on the
same side of every divider give the same colour, so the picture is a
partition of the plane, each region one colour. The plane's coordinates put
the frame's longer side on [-1, 1]; the model is a function of real (x, y),
so it draws at any size and beyond the frame.

Everything that draws or exports a model (renders, the first picture, the
SVG, the page, the window, re-placement) uses this class; the Keras network
is built from a Model and read back into one (scalefree.nn), and serves only
to compute gradients. Nothing here imports TensorFlow.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .config import Config
from .history import History
from .plane import colouring, draw, regions
from .plane.pictures import picture_psnr, to_uint8
from .shapes import kind_of
from .shapes.base import SHARPNESS


@dataclass(frozen=True)
class ColourLayers:
    """The M ReLU colour units and the 3 sigmoid outputs: W1 (N, M), b1 (M,), W2 (M, 3), b2 (3,)."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    @property
    def arrays(self):
        return self.w1, self.b1, self.w2, self.b2

    def hidden(self, first):
        """The colour units' inputs (P, M) from the first layer's outputs (P, N)."""
        return np.asarray(first, np.float64) @ np.asarray(self.w1, np.float64) + np.asarray(self.b1, np.float64)

    def colours(self, hidden):
        """RGB in [0, 1] from the colour units' inputs: ReLU, then the sigmoid outputs."""
        w2, b2 = np.asarray(self.w2, np.float64), np.asarray(self.b2, np.float64)
        return colouring.output(np.asarray(hidden, np.float64), w2, b2)

    def paint(self, hidden):
        """8-bit colours from the colour units' inputs (see `colours`)."""
        return to_uint8(self.colours(hidden))


@dataclass
class TrainingState:
    """How a model was trained, and what resuming it needs: the photo, the options, where training was."""

    config: Config
    image: object  # (h, w, 3) uint8 array: the photo, whole; or a large photo's file (formats.photofile.PhotoFile)
    image_name: str
    cycle: int = 0
    epoch: int = 0
    optimizer: list | None = None  # the optimizer's variables; None: start it afresh
    history: History = field(default_factory=History)


class Model:
    """A model of one picture: groups of first-layer units (shapes), colour layers and the frame.

    `dividers` is a tuple of groups of units (scalefree.shapes: Lines,
    Circles, or DenseUnits for a relu model), `colour_layers` the colour
    units and outputs, `size` the (height, width) of the frame in pixels
    (the photo's: renders default to it), `sharpness` the dividers' steepness.
    `training` (a TrainingState) is set on models that come from training or
    from a checkpoint: `save` needs it.
    """

    def __init__(self, dividers, colour_layers, size, sharpness=SHARPNESS, training=None):
        self.dividers = tuple(dividers)
        if not self.dividers:
            raise ValueError("a model needs at least one group of units")
        self.colour_layers = colour_layers if isinstance(colour_layers, ColourLayers) else ColourLayers(*colour_layers)
        self.size = (int(size[0]), int(size[1]))
        self.sharpness = float(sharpness)
        self.training = training
        if self.colour_layers.w1.shape[0] != self.n_dividers:
            raise ValueError(f"W1 has {self.colour_layers.w1.shape[0]} rows for {self.n_dividers} units")

    # What the model is.

    @property
    def n_dividers(self):
        return sum(len(group) for group in self.dividers)

    @property
    def n_colour_units(self):
        return self.colour_layers.w1.shape[1]

    @property
    def type(self):
        """The kind of its units, as options name it ("linear", "circular", "relu"; "mixed" for lines and circles)."""
        kinds = {type(group).type for group in self.dividers}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def kind(self):
        return kind_of(self.type)

    @property
    def has_partition(self):
        """Whether the model cuts the plane into regions of one colour each (lines and circles do; relu does not)."""
        return all(group.partitions for group in self.dividers)

    def __repr__(self):
        groups = ", ".join(f"{len(g)} {g.name}" for g in self.dividers)
        h, w = self.size
        return f"<scalefree.Model: {groups}, {self.n_colour_units} colour units, frame {w}x{h}>"

    # The forward pass.

    def first_layer(self, xy, hard=False):
        """(P, N) outputs of every unit at P points (x, y): tanh(sharpness E), or the sides when `hard`."""
        if hard and self.has_partition:
            return self.sides(xy)
        return np.concatenate([group.outputs(xy, self.sharpness) for group in self.dividers], axis=1)

    def colours(self, xy, hard=False):
        """RGB in [0, 1] (P, 3) at P points (x, y): the network as training sees it, or its hard partition."""
        layers = self.colour_layers
        return layers.colours(layers.hidden(self.first_layer(xy, hard)))

    def sides(self, xy):
        """(P, N) of +-1: which side of each divider each point lies on."""
        if not self.has_partition:
            raise ValueError("a relu model has no dividers, so no sides")
        return regions.sides(self.dividers, xy)

    # Pictures.

    def render(self, scale=1.0, border=0.0, hard=True, size=None, on_rows=None, rows=None):
        """An (H, W, 3) uint8 picture: `scale` x the frame's size (or `size`), widened by `border`.

        This is the view `--just_image -x SCALE -b BORDER` draws. `hard`
        draws the partition itself (one colour a region, edges one pixel wide
        at any zoom); otherwise the network's own function, steep tanh
        included. A relu model has no partition and always draws its function.
        `rows` = (top, bottom) draws only those rows of that picture.
        """
        h, w = size or self.size
        if hard and self.has_partition:
            return draw.render_partition(
                self.dividers, self.colour_layers, h, w, scale, border, on_rows=on_rows, rows=rows
            )
        return draw.render_function(
            self.colours, h, w, scale, border, units=self.n_dividers, on_rows=on_rows, rows=rows
        )

    def image(self, scale=1.0, border=0.0, hard=True):
        """The render as a Pillow image."""
        from PIL import Image

        return Image.fromarray(self.render(scale, border, hard))

    def _repr_png_(self):
        # Jupyter shows a model as its picture.
        import io

        buffer = io.BytesIO()
        self.image().save(buffer, format="PNG")
        return buffer.getvalue()

    def psnr(self, image, hard=True):
        """PSNR in dB of the model drawn at `image`'s size against it (a path, a Pillow image or an array)."""
        from .formats.images import as_rgb

        picture = as_rgb(image)
        return picture_psnr(self.render(hard=hard, size=picture.shape[:2]), picture)

    # Files.

    def to_svg(self, path=None, scale=1.0, border=0.0):
        """The partition as an SVG document (its text); written to `path` too when given."""
        from .formats.svg import svg_document
        from .plane.arrangement import view_of

        self._needs_partition("SVG")
        text, _ = svg_document(self, view_of(*self.size, scale, border), self.description())
        _write_text(path, text)
        return text

    def to_html(self, path=None, title=None, max_bytes=None):
        """A self-contained web page that draws the model at any size (its text); written to `path` too.

        Its model is the data file's (`to_data`, with `max_bytes` as there).
        """
        from .formats.page import page

        self._needs_partition("page")
        about = self.description()
        text, _ = page(self, about, title or about, photo=self._photo(), max_bytes=self._budget(max_bytes))
        _write_text(path, text)
        return text

    def to_data(self, path=None, max_bytes=None):
        """The model as a data file (.sfm, a few hundred bytes to a few kB) for the web viewer; written to `path` too.

        Its dividers and weights are rounded (formats.modeldata): for a model
        with its photo, at the precision that draws it best for its bytes, or
        the best within `max_bytes` (by default, the budget it was trained for). `scalefree.load` reads the file back as
        the model it holds.
        """
        from .formats.atomic import write_bytes
        from .formats.modeldata import model_data

        self._needs_partition("model data")
        data, _ = model_data(self, photo=self._photo(), max_bytes=self._budget(max_bytes))
        if path is not None:
            write_bytes(path, data)
        return data

    def save(self, path):
        """Write the model as a checkpoint (.pkl): the file `image_learn.py -m` resumes and renders."""
        from .formats import checkpoint

        if self.training is None:
            raise ValueError("only a model from scalefree.fit or scalefree.load can be saved: it holds its photo")
        checkpoint.write(self, path)

    def description(self):
        """What an exported file says of its source."""
        groups = " and ".join(f"{len(g)} {g.name}" for g in self.dividers)
        about = f"scalefree: {groups}, {self.n_colour_units} colour units"
        if self.training is not None:
            about += f", cycle {self.training.cycle}, learnt from {self.training.image_name}"
        return about

    def _photo(self):
        """The photo to fit exported colours to: the photo, or a large one's file shrunk (what is looked at)."""
        photo = None if self.training is None else self.training.image
        if photo is None or isinstance(photo, np.ndarray):
            return photo
        from .formats.photofile import LARGE_PIXELS

        return photo.shrunk(LARGE_PIXELS >> 4)

    def _budget(self, max_bytes):
        # The one given, else the one the model was trained for (fit's max_bytes, the command line's --max_bytes).
        if max_bytes is not None or self.training is None:
            return max_bytes
        return self.training.config.max_bytes

    def _needs_partition(self, what):
        if not self.has_partition:
            raise ValueError(f"a relu model has no exact partition to write as {what}; render it as a PNG instead")

    # As the network holds it.

    def weights(self):
        """Every array, in the network's order: each group's, then the colour layers'."""
        return [a for group in self.dividers for a in group.arrays] + list(self.colour_layers.arrays)

    @classmethod
    def from_weights(cls, type_, weights, size, sharpness=SHARPNESS, training=None):
        """A model of one kind of unit from its arrays in the network's order (Config.weight_shapes)."""
        kind = kind_of(type_)
        count = len(kind.array_shapes(0))
        return cls((kind(*weights[:count]),), ColourLayers(*weights[count:]), size, sharpness, training)

    def replace(self, **changes):
        """A copy with some of (dividers, colour_layers, size, sharpness, training) changed."""
        values = {
            "dividers": self.dividers,
            "colour_layers": self.colour_layers,
            "size": self.size,
            "sharpness": self.sharpness,
            "training": self.training,
        }
        return Model(**{**values, **changes})

    def with_training(self, **changes):
        """A copy whose training state has `changes`."""
        return self.replace(training=dataclasses.replace(self.training, **changes))


def _write_text(path, text):
    if path is not None:
        from .formats.atomic import write_text

        write_text(path, text)
