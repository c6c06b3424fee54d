#!/usr/bin/env python
"""Stitch the frames of one or more training runs into a video; see --help."""

import os
import sys

from tqdm import tqdm

from scalefree.cli import Parser, exit_code
from scalefree.errors import UserError
from scalefree.movie import CONTAINERS, MovieOptions, make_movie, parse_size


def build_parser():
    p = Parser(prog="make_movie.py",
               description="Make a video from frames saved with image_learn.py -f DIR. Several folders "
                           "play one after another, or side by side with --grid.")
    p.add_argument("folders", nargs="+", metavar="FRAMES_DIR", help="folder(s) of frames")
    p.add_argument("-o", "--output", metavar="FILE",
                   help=f"video to write ({', '.join(CONTAINERS)}); default: FRAMES_DIR.mp4 beside the folder")
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


def main(argv=None):
    args = build_parser().parse_args(argv)
    output = args.output or os.path.normpath(args.folders[0]) + ".mp4"

    def run():
        if args.scale is not None and args.scale <= 0:
            raise UserError(f"--scale must be greater than 0, got {args.scale:g}")
        options = MovieOptions(fps=args.fps, hold_first=args.hold_first, hold_last=args.hold_last,
                               size=parse_size(args.size) if args.size else None, scale=args.scale,
                               caption=args.caption, title=args.title, grid=args.grid)
        with tqdm(unit="frame", delay=1.0, leave=False, disable=None) as bar:
            frames, (w, h) = make_movie(args.folders, output, options,
                                        warn=lambda m: print(m, file=sys.stderr), progress=bar.update)
        print(f"wrote {frames} frames, {w}x{h}, {frames / options.fps:.1f} s, to {output}")
        return 0

    return exit_code("make_movie.py", run, "interrupted; nothing was written")


if __name__ == "__main__":
    sys.exit(main())
