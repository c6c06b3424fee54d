"""The command lines: parse, call the package, map errors to exit codes.

`image_learn.py` and `make_movie.py` at the top of the checkout, the
installed `scalefree` and `scalefree-movie` commands and `python -m
scalefree` all start here. Nothing else in the package reads sys.argv or
decides an exit code.
"""

import os
import sys
from shlex import quote

from ..errors import UserError
from .errors import exit_code


def image_learn(argv=None, prog="scalefree"):
    """Learn an image, resume a model, or render one; return the exit code."""
    from ..run.options import RunOptions
    from .parser import parse

    typed = parse(sys.argv[1:] if argv is None else argv, prog)
    if typed.pop("verbose", False):
        # Read by scalefree.nn._tensorflow when TensorFlow loads, which has not happened yet.
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    inputs = typed.pop("input_image", None)
    options, config_typed = RunOptions.split(typed)
    command = f"python {prog}" if prog.endswith(".py") else prog

    def run():
        from ..run.batch import is_batch, learn_many

        if inputs and is_batch(inputs):
            return learn_many(inputs, options, config_typed)
        options.input_image = inputs[0] if inputs else None
        return learn(options, config_typed, command=command)

    return exit_code(prog, run, "aborted")


def learn(options, config_typed=None, command="scalefree"):
    """Train, resume or render as `options` (RunOptions) and the typed Config fields say; the exit code.

    `command` is how the user started us, for the hints at the end.
    """
    from ..run.run import Run, plural, quoted
    from ..run.training import print_line as log
    from ..run.training import train
    from ..run.window import app_or_none

    options.exports()  # an impossible export is refused before anything is read
    run = Run.open(options, config_typed)
    if options.just_image:
        from ..run.exports import render_image

        return render_image(run, log)
    if run.budget_note:
        log(run.budget_note)
    app = None if options.no_display or not run.is_chief else app_or_none(log)
    outcome = train(run, log, app)
    if not run.is_chief:
        log(f"{outcome.reason} after {outcome.elapsed:.1f} s; this worker is done (the chief saves the model)")
        return 0
    model = quoted(run.checkpoint_path)
    log(f"{outcome.reason} after {outcome.elapsed:.1f} s; model saved to {model}")
    if run.config.max_bytes is not None and run.config.kind.partitions:
        from ..formats import paths
        from ..run.exports import export_model_data

        export_model_data(run, outcome.trained.model(), paths.data_path(run.checkpoint_path), log)
    if run.frames_dir:
        log(f"{plural(outcome.trained.frames_written, 'frame')} written to {quoted(run.frames_dir)}")
    mult = "" if max(run.photo_size) > 1024 else " -x 4"
    log(f"to resume: {command} -m {model}")
    log(f"to render: {command} --just_image -m {model}{mult}")
    return 0


def make_movie(argv=None, prog="scalefree-movie"):
    """Stitch saved frames into a video; return the exit code."""
    from tqdm import tqdm

    from ..formats.movie import MovieOptions, parse_size
    from ..formats.movie import make_movie as write_movie
    from .parser import build_movie_parser

    args = build_movie_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    output = args.output or os.path.normpath(args.folders[0]) + ".mp4"

    def run():
        if args.scale is not None and args.scale <= 0:
            raise UserError(f"--scale must be greater than 0, got {args.scale:g}")
        options = MovieOptions(
            fps=args.fps,
            hold_first=args.hold_first,
            hold_last=args.hold_last,
            size=parse_size(args.size) if args.size else None,
            scale=args.scale,
            caption=args.caption,
            title=args.title,
            grid=args.grid,
        )
        with tqdm(unit="frame", delay=1.0, leave=False, disable=None) as bar:
            movie = write_movie(
                args.folders, output, options, warn=lambda m: print(m, file=sys.stderr), progress=bar.update
            )
        (w, h), n = movie.size, movie.frames
        print(
            f"wrote {n} frame{'' if n == 1 else 's'}, {w}x{h} {movie.codec}, {movie.seconds:.1f} s, to {quote(output)}"
        )
        return 0

    return exit_code(prog, run, "interrupted; nothing was written")
