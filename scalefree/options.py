"""Command-line options of both commands. Imports nothing heavy, so --help is instant."""

import argparse

from . import __version__
from .cli import Parser
from .config import DIVIDER_TYPES, GRADIENT_SHARPNESS, INITS, OPTIMIZERS, RENDER_PIXEL_LIMIT, Config
from .paths import DEFAULT_OUTPUT_DIR

_D = Config()


def _per_type(defaults):
    """A default that depends on the divider type, as help text: '20', or '20 for lines, 10 for circles'."""
    shown = {kind: f"{defaults[kind]:g}" for kind in ("linear", "circular")}
    if len(set(shown.values())) == 1:
        return shown["linear"]
    return f"{shown['linear']} for lines, {shown['circular']} for circles"


def _option(parser, *flags, default=None, **kwargs):
    """An option whose value is absent from the result unless typed.

    Knowing what was typed is what lets a resumed run keep stored values for
    everything else (see config.Config.merged).
    """
    shown = "" if default is None else f" (default: {default})"
    kwargs["help"] = kwargs.get("help", "") + shown
    parser.add_argument(*flags, default=argparse.SUPPRESS, **kwargs)


def build_parser(prog="scalefree"):
    p = Parser(
        prog=prog,
        description="Learn an image with N lines or circles, each region one colour; "
        "watch it form, save frames, render the result at any size.",
    )
    p.add_argument("--version", action="version", version=f"scalefree {__version__}")
    g = p.add_argument_group("what to learn")
    _option(
        g,
        "-i",
        "--input_image",
        metavar="IMAGE",
        nargs="+",
        help="image to learn; without it and without -m, a bundled photo. Several images, a folder or a "
        "quoted glob train one model each in one process, skipping those done before",
    )
    _option(
        g,
        "-m",
        "--model_file",
        metavar="MODEL.pkl",
        help="checkpoint to resume from (or to render with --just_image); options typed here override the stored ones",
    )
    _option(
        g,
        "-t",
        "--type",
        default=_D.type,
        choices=DIVIDER_TYPES,
        metavar="TYPE",
        help=f"divider units: {', '.join(DIVIDER_TYPES)} (relu: plain dense units, a smooth baseline)",
    )
    _option(
        g,
        "-d",
        "--n_dividers",
        type=int,
        default=_D.n_dividers,
        metavar="N",
        help="number of divider units (lines or circles), the first layer",
    )
    _option(
        g,
        "-n",
        "--n_hidden",
        type=int,
        default=_D.n_hidden,
        metavar="M",
        help="number of ReLU colour units, the second layer",
    )
    _option(
        g,
        "-p",
        "--downscale",
        type=float,
        help="shrink the image by this factor before training: faster, less detail; 1 trains on every "
        "pixel (default: a photo larger than --pixel_budget is shrunk to fit it)",
    )
    _option(
        g,
        "--pixel_budget",
        type=int,
        default=_D.pixel_budget,
        help="without -p, photos with more pixels than this train at a size that has about this many; "
        "renders, frames and SVG are still at the photo's own size",
    )

    g = p.add_argument_group("training")
    _option(
        g,
        "-e",
        "--epochs_per_cycle",
        type=int,
        default=_D.epochs_per_cycle,
        help="epochs per cycle; after each cycle: log line, checkpoint, frame, window update",
    )
    _option(g, "-c", "--cycles", type=int, default=_D.cycles, help="cycles to run, 0 = until stopped")
    _option(
        g,
        "-l",
        "--learning_rate",
        type=float,
        default=_D.learning_rate,
        help="optimizer learning rate of the colour units (the dividers' is scaled by --divider_lr_scale)",
    )
    _option(
        g,
        "--divider_lr_scale",
        type=float,
        default=_D.divider_lr_scale,
        help="the dividers' learning rate as a fraction of -l: they settle with smaller steps",
    )
    _option(
        g,
        "--lr_decay_steps",
        type=int,
        default=_D.lr_decay_steps,
        help="learning rates decay as lr / (1 + step / this), 0 = constant",
    )
    _option(
        g,
        "--optimizer",
        default=_D.optimizer,
        choices=OPTIMIZERS,
        help=f"{', '.join(OPTIMIZERS)} (the first tool used adadelta)",
    )
    _option(
        g,
        "--init",
        choices=INITS,
        help="where dividers start: on the image's edges; one by one where each lowers the error most "
        "(residual); the first 32 so and the rest on edges (combined); or at random as the first "
        "tool did (default: edges for lines, combined for circles)",
    )
    _option(
        g,
        "--replace_every",
        type=int,
        help="every this many epochs, move the dividers that matter least to where the error is largest; "
        "0 = never (default: 20 for circles, 0 for lines)",
    )
    _option(g, "--replace_until", type=int, default=_D.replace_until, help="the last epoch at which dividers are moved")
    _option(
        g,
        "--replace_share",
        type=float,
        default=_D.replace_share,
        help="the share of dividers moved each time (at least one)",
    )
    _option(g, "--batch_size", type=int, default=_D.batch_size, help="pixels per optimizer step")
    _option(
        g,
        "-s",
        "--sharpness",
        type=float,
        default=_D.sharpness,
        help="divider activation is tanh(sharpness * E): higher, harder region edges",
    )
    _option(
        g,
        "-g",
        "--gradient_sharpness",
        type=float,
        help="false gradient: dividers learn through the slope of tanh(g * E); high values barely move "
        f"them, low values keep them from settling (default: {_per_type(GRADIENT_SHARPNESS)})",
    )
    _option(g, "--seed", type=int, help="random seed; the same seed gives the same run")
    _option(
        g,
        "--strategy",
        choices=("default", "mirrored", "multiworker"),
        default="default",
        help="default: one device; mirrored: every GPU here, data-parallel; multiworker: the processes "
        "TF_CONFIG names, on one host or several (the chief writes the files)",
    )
    _option(
        g,
        "--max_seconds",
        type=float,
        default=_D.max_seconds,
        help="stop after the cycle that passes this many seconds of training, 0 = no limit",
    )
    _option(
        g,
        "--target_psnr",
        type=float,
        default=_D.target_psnr,
        help="stop after the cycle that reaches this PSNR in dB, 0 = no target",
    )

    g = p.add_argument_group("output")
    _option(
        g,
        "--output_dir",
        default=DEFAULT_OUTPUT_DIR,
        metavar="DIR",
        help="where checkpoints (and renders without -o) go",
    )
    _option(
        g,
        "--overwrite",
        action="store_true",
        help="a new run may replace an existing model of the same name (without it, it refuses)",
    )
    _option(
        g,
        "-f",
        "--save_frames",
        metavar="DIR",
        help="save a frame per cycle in DIR (created if missing), with frames.jsonl beside them",
    )
    _option(
        g, "-j", "--just_image", action="store_true", help="render the model given with -m to an image; no training"
    )
    _option(g, "-o", "--output", metavar="FILE", help="file written by --just_image (.png, .jpg, ...)")
    _option(
        g,
        "--svg",
        metavar="FILE.svg",
        help="with --just_image: write the partition as SVG, each region an exact polygon "
        "or arc-bounded path (lines and circles only); -x and -b set the view",
    )
    _option(
        g,
        "--html",
        metavar="FILE.html",
        help="with --just_image: write one self-contained web page that draws the model itself at any "
        "size, zoomed with the wheel and moved by dragging (lines and circles only; a few kB)",
    )
    _option(
        g, "-x", "--disp_mult", type=float, default=_D.disp_mult, help="render size as a multiple of the photo's size"
    )
    _option(
        g,
        "-b",
        "--border",
        type=float,
        default=_D.border,
        help="widen the rendered region by (1 + BORDER) about the centre, to see how the function extrapolates",
    )
    _option(
        g,
        "--max_render_pixels",
        type=int,
        default=RENDER_PIXEL_LIMIT,
        help="refuse renders and frames larger than this many pixels (they need 3 bytes a pixel and more while drawn)",
    )
    _option(
        g,
        "--hard",
        action="store_true",
        help="render by the partition itself: hard edges, one colour a region (the default "
        "for renders larger than the training size)",
    )
    _option(g, "--no_display", action="store_true", help="no preview window")
    _option(g, "--show", action="store_true", help="with --just_image: show the render in a window too")
    _option(
        g,
        "--verbose",
        action="store_true",
        help="also show TensorFlow's own log messages (hidden by default: only its errors pass)",
    )
    return p


def parse(argv, prog="scalefree"):
    """The options the user typed, as a dict (absent options are simply missing)."""
    return vars(build_parser(prog).parse_args(argv))


def build_movie_parser(prog="scalefree-movie"):
    from .movie import CONTAINERS

    p = Parser(
        prog=prog,
        description="Make a video from frames saved with image_learn.py -f DIR. Several folders "
        "play one after another, or side by side with --grid.",
    )
    p.add_argument("--version", action="version", version=f"scalefree {__version__}")
    p.add_argument("folders", nargs="+", metavar="FRAMES_DIR", help="folder(s) of frames")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=f"video to write ({', '.join(CONTAINERS)}); default: FRAMES_DIR.mp4 beside the folder",
    )
    p.add_argument("--fps", type=float, default=25.0, help="frames per second (default: 25)")
    p.add_argument("--hold_first", type=float, default=0.0, help="seconds to hold the first frame (default: 0)")
    p.add_argument("--hold_last", type=float, default=1.0, help="seconds to hold the last frame (default: 1)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", metavar="WxH", help="resize every frame to this size")
    size.add_argument("--scale", type=float, help="resize every frame by this factor")
    p.add_argument("--caption", action="store_true", help="caption bar: cycle, PSNR, N and type")
    p.add_argument("--title", metavar="TEXT", help="open with a title card")
    p.add_argument("--grid", action="store_true", help="play several folders side by side, in step by cycle")
    return p
