"""What the command line asks of a run besides the model's own settings (the Config).

Each field is one option, described once (see config.option): the parser
is built from these fields and the Config's.
"""

import dataclasses

from ..config import OUTPUT, RENDER_PIXEL_LIMIT, TRAINING, WHAT, ConfigError, field_names, option
from ..formats.paths import DEFAULT_OUTPUT_DIR

# Exports of a saved model: option -> (what it writes, the extension its file must have).
EXPORTS = {"svg": ("partition", ".svg"), "html": ("page", ".html"), "model_data": ("model data", ".sfm")}


@dataclasses.dataclass
class RunOptions:
    """The run's knobs; None where the user gave none (then the run decides)."""

    input_image: str | None = option(
        None,
        "-i",
        group=WHAT,
        metavar="IMAGE",
        nargs="+",
        help="image to learn; without it and without -m, a bundled photo. Several images, a folder or a "
        "quoted glob train one model each in one process, skipping those done before",
    )
    model_file: str | None = option(
        None,
        "-m",
        group=WHAT,
        metavar="MODEL.pkl",
        help="checkpoint to resume from (or to render with --just_image); options typed here override the stored ones",
    )
    strategy: str = option(
        "default",
        group=TRAINING,
        choices=("default", "mirrored", "multiworker"),
        help="default: one device; mirrored: every GPU here, data-parallel; multiworker: the processes "
        "TF_CONFIG names, on one host or several (the chief writes the files)",
    )
    cluster_timeout: float = option(
        300.0,
        group=TRAINING,
        metavar="SECONDS",
        help="with --strategy multiworker: give up when the cluster has not formed in this many seconds, "
        "and when a worker stops answering for this long (0 = wait for ever)",
    )
    output_dir: str | None = option(
        None,
        group=OUTPUT,
        metavar="DIR",
        help=f"where checkpoints (and renders without -o) go (default: {DEFAULT_OUTPUT_DIR})",
    )
    overwrite: bool = option(
        False, group=OUTPUT, help="a new run may replace an existing model of the same name (without it, it refuses)"
    )
    save_frames: str | None = option(
        None,
        "-f",
        group=OUTPUT,
        metavar="DIR",
        help="save a frame per cycle in DIR (created if missing), with frames.jsonl beside them",
    )
    just_image: bool = option(False, "-j", group=OUTPUT, help="render the model given with -m to an image; no training")
    output: str | None = option(
        None, "-o", group=OUTPUT, metavar="FILE", help="file written by --just_image (.png, .jpg, ...)"
    )
    svg: str | None = option(
        None,
        group=OUTPUT,
        metavar="FILE.svg",
        help="with --just_image: write the partition as SVG, each region an exact polygon "
        "or arc-bounded path (lines and circles only); -x and -b set the view",
    )
    html: str | None = option(
        None,
        group=OUTPUT,
        metavar="FILE.html",
        help="with --just_image: write one self-contained web page that draws the model itself at any "
        "size, zoomed with the wheel and moved by dragging (lines and circles only; a few kB)",
    )
    model_data: str | None = option(
        None,
        group=OUTPUT,
        metavar="FILE.sfm",
        help="with --just_image: write the model alone as a small binary file that the web viewer "
        "scalefree-image.js draws at any size: <scalefree-image src=FILE.sfm> (lines and circles only)",
    )
    max_render_pixels: int = option(
        RENDER_PIXEL_LIMIT,
        group=OUTPUT,
        help="refuse renders and frames larger than this many pixels (they need 3 bytes a pixel and more while drawn)",
    )
    hard: bool = option(
        False,
        group=OUTPUT,
        help="render by the partition itself: hard edges, one colour a region (the default "
        "for renders larger than the training size)",
    )
    no_display: bool = option(False, group=OUTPUT, help="no preview window")
    show: bool = option(False, group=OUTPUT, help="with --just_image: show the render in a window too")

    @classmethod
    def split(cls, typed):
        """The typed options as (RunOptions, the Config fields the user typed); others (--verbose) are dropped."""
        knobs = {f.name for f in dataclasses.fields(cls)}
        config = set(field_names())
        return cls(**{k: v for k, v in typed.items() if k in knobs}), {k: v for k, v in typed.items() if k in config}

    def exports(self):
        """The exports asked for, as (option, path), after checking they can be made."""
        asked = [(name, getattr(self, name)) for name in EXPORTS if getattr(self, name) is not None]
        for name, path in asked:
            what, ext = EXPORTS[name]
            if not self.just_image:
                raise ConfigError(f"--{name} writes a saved model's {what}: use it with --just_image -m MODEL.pkl")
            if not path.lower().endswith(ext):
                raise ConfigError(f"--{name} {path}: the file name should end in {ext}")
        return asked
