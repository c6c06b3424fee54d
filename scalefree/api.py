"""The Python way in: fit a model to a picture, load a saved one.

    import scalefree
    model = scalefree.fit("photo.jpg", dividers=128, shape="lines", colours=32, seconds=30)
    model.psnr("photo.jpg"); model.render(scale=4, border=3); model.to_svg("photo.svg")
    model.save("photo.pkl")                 # what image_learn.py -m resumes and renders
    model = scalefree.load("photo.pkl")     # no TensorFlow needed to draw it

`fit` trains with TensorFlow (imported when it starts); everything a Model
does afterwards is numpy.
"""

import dataclasses
import os
import threading
import time

from .config import Config
from .model import Model

# How long `fit` trains when it is told neither seconds, cycles nor a target.
DEFAULT_SECONDS = 60.0


def fit(
    image,
    dividers=None,
    shape="lines",
    colours=None,
    *,
    seconds=None,
    cycles=None,
    target_psnr=None,
    on_cycle=None,
    progress=True,
    verbose=False,
    window=False,
    checkpoint=None,
    **options,
):
    """Fit a model to `image` and return it (the best cycle of the run), ready to draw and save.

    `image`: a path, a Pillow image or an (h, w, 3) array; or a Model from
    `fit` or `load`, to train further (its shape and sizes are its own).
    `dividers` (N) lines or circles (`shape`: "lines" or "circles", or the
    command line's "linear" and "circular"; "mixed" for lines, circles or
    both as placement finds best; "relu" for the smooth baseline)
    and `colours` (M) colour units: 128 and 64, or with `max_bytes=B` as
    many as fit a model data file of B bytes (`to_data` then keeps within
    it). Training stops after `seconds`, after
    `cycles` cycles or at `target_psnr` dB, whichever comes first (60 s
    when none is given); a cycle is `epochs_per_cycle` passes over the
    pixels. `on_cycle(result)` is called after every cycle with what the
    command line's cycle line shows (result.cycle, .loss, .psnr, .seconds,
    .pixels_per_second); returning True stops. Ctrl-C (or a notebook's
    interrupt) stops after the epoch under way, and the model so far is
    returned. `progress` shows a progress bar (a notebook widget where there
    is one); `verbose` prints what the command line prints; `window` opens
    the preview window. `checkpoint`: a .pkl path to save after every cycle,
    as the command line does (nothing is written without it). Any other
    option of the command line by its long name: `learning_rate=0.002`,
    `init="residual"`, `seed=0`, `batch_size=512`, ...
    """
    from .formats.images import as_rgb, open_photo
    from .run.options import RunOptions
    from .run.run import Run
    from .run.training import train

    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"fit() got options it does not know: {', '.join(unknown)}")
    typed = dict(options)
    stops = {"max_seconds": seconds, "cycles": cycles, "target_psnr": target_psnr}
    typed.update({k: v for k, v in stops.items() if v is not None})
    if all(v is None for v in stops.values()):
        typed["max_seconds"] = DEFAULT_SECONDS
    run_options = RunOptions(no_display=not window, overwrite=True)
    if isinstance(image, Model):
        if image.training is None:
            raise ValueError("fit can go on training only a model that holds its photo (from fit or load)")
        run = Run.open(run_options, typed, model=image, checkpoint_path=checkpoint)
    else:
        typed.update(type=shape)
        typed.update({k: v for k, v in (("n_dividers", dividers), ("n_hidden", colours)) if v is not None})
        if isinstance(image, (str, os.PathLike)):
            # A file: above 16 megapixels read a band at a time, and saved by path and hash (see README).
            picture, name = open_photo(os.fspath(image)), os.path.basename(os.fspath(image))
        else:
            picture, name = as_rgb(image), "image.png"
        run = Run.open(run_options, typed, image=picture, image_name=name, checkpoint_path=checkpoint)
    config = run.config
    log = _printer(verbose)
    bar = _bar(progress, config)
    clock = {}

    def each_cycle(result):
        if bar is not None:
            # Seconds of training, as --max_seconds counts them: from the start of the first cycle.
            started = clock.setdefault("started", time.perf_counter() - result.seconds)
            done = result.cycle - run.cycle if config.cycles else time.perf_counter() - started
            bar.update(min(done, bar.total or done) - bar.n)
            bar.set_postfix_str(f"cycle {result.cycle}, PSNR {result.psnr:.2f} dB")
        return on_cycle(result) if on_cycle else None

    app = None
    if window:
        from .run.window import app_or_none

        app = app_or_none(log)
    try:
        outcome = train(run, log, app, stop=threading.Event(), on_cycle=each_cycle)
    finally:
        if bar is not None:
            bar.close()
    return outcome.trained.model()


def load(path):
    """The model saved at `path`; no TensorFlow needed.

    A .pkl checkpoint gives the model with its photo and history (it can be
    saved and trained on); a model data file (.sfm, `Model.to_data`) the
    rounded model it holds, to draw and export.
    """
    from .formats import checkpoint, modeldata

    path = os.fspath(path)
    with open(path, "rb") as f:
        start = f.read(len(modeldata.MAGIC))
    if start == modeldata.MAGIC:
        with open(path, "rb") as f:
            return modeldata.decode(f.read(modeldata.MAX_BYTES + 1))
    return checkpoint.read(path)


def _printer(verbose):
    if not verbose:
        return lambda line: None
    from .run.training import print_line

    return print_line


def _bar(progress, config):
    """A progress bar over the cycles asked for, or over the seconds (a notebook widget where there is one)."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    if config.cycles:
        return tqdm(total=config.cycles, unit="cycle", desc="fitting")
    total = config.max_seconds or None
    return tqdm(
        total=total,
        unit="s",
        desc="fitting",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s, {postfix}",
    )
