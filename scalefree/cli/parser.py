"""Command-line options of both commands. Imports nothing heavy, so --help is instant.

image_learn's parser is built from the fields of Config and RunOptions,
where each option is described once (config.option).
"""

import argparse
import dataclasses

from .. import __version__
from ..config import OUTPUT, TRAINING, WHAT, Config, value_type
from ..run.options import RunOptions
from .errors import Parser

GROUPS = (WHAT, TRAINING, OUTPUT)


def _add(group, f):
    """The option of field `f`, absent from the parsed result unless typed.

    Knowing what was typed is what lets a resumed run keep stored values for
    everything else (see config.Config.merged).
    """
    meta = f.metadata
    kwargs = dict(meta["parser"])
    kind = value_type(f)
    if kind is bool:
        kwargs["action"] = "store_true"
    elif kind is not str:
        kwargs.setdefault("type", kind)
    shown = "" if f.default is None or kind is bool else f" (default: {f.default})"
    group.add_argument(*meta["flags"], f"--{f.name}", default=argparse.SUPPRESS, help=meta["help"] + shown, **kwargs)


def build_parser(prog="scalefree"):
    p = Parser(
        prog=prog,
        description="Learn an image with N lines or circles, each region one colour; "
        "watch it form, save frames, render the result at any size.",
    )
    p.add_argument("--version", action="version", version=f"scalefree {__version__}")
    groups = {name: p.add_argument_group(name) for name in GROUPS}
    for f in dataclasses.fields(RunOptions)[:2] + dataclasses.fields(Config) + dataclasses.fields(RunOptions)[2:]:
        _add(groups[f.metadata["group"]], f)
    groups[OUTPUT].add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="also show TensorFlow's own log messages (hidden by default: only its errors pass)",
    )
    return p


def parse(argv, prog="scalefree"):
    """The options the user typed, as a dict (absent options are simply missing)."""
    return vars(build_parser(prog).parse_args(argv))


def build_movie_parser(prog="scalefree-movie"):
    from ..formats.movie import CONTAINERS

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
