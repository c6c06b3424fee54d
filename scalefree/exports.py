"""A saved model as files: a render (--just_image), its partition as SVG (--svg), a page that draws it (--html)."""

import gzip
import os
import time

import numpy as np

from . import paths
from .atomic import write_text
from .config import ConfigError
from .images import write_image
from .run import quoted, render_run
from .window import app_or_none


def _partition(run):
    """The stored model's (divider weights, colour layers): what the SVG and the page are made of."""
    c = run.config
    if c.type == "relu":
        raise ConfigError("a relu model has no exact partition to write as SVG or a page; render it as a PNG instead")
    weights = [np.asarray(a) for a in run.stored.weights]
    return weights[:2], weights[2:]


def _about(run):
    """What an exported file says of its source."""
    c = run.config
    return (
        f"scalefree: {c.type}, {c.n_dividers} dividers, {c.n_hidden} colour units, cycle {run.cycle}, "
        f"learnt from {run.image_name}"
    )


def export_svg(run, path, log):
    """Write the run's partition, in the view set by -x and -b, as SVG."""
    from .arrangement import view_of
    from .svg import svg_document

    c = run.config
    dividers, colour_layers = _partition(run)
    started = time.perf_counter()
    about = f"{_about(run)}; view x{c.disp_mult:g}, border {c.border:g}"
    document, n_cells = svg_document(
        c.type, dividers, colour_layers, view_of(*run.photo_size, c.disp_mult, c.border), about
    )
    write_text(path, document)
    log(
        f"wrote {n_cells} regions ({len(document) / 1e3:.0f} kB) in {time.perf_counter() - started:.1f} s "
        f"to {quoted(path)}"
    )


def export_html(run, path, log):
    """Write the page that draws the model, and say what its rounded weights cost against the photo."""
    from .images import picture_psnr
    from .render import render_partition
    from .webpage import page

    c = run.config
    dividers, colour_layers = _partition(run)
    document, drawn = page(
        c.type,
        dividers,
        colour_layers,
        *run.photo_size,
        about=_about(run),
        title=f"{run.image_name}: {c.n_dividers} {c.type} dividers",
    )
    write_text(path, document)
    exact, rounded = (
        picture_psnr(render_partition(c.type, dividers, layers, *run.size), run.train_image)
        for layers in (colour_layers, drawn)
    )
    data = document.encode()
    log(
        f"wrote the page ({len(data) / 1e3:.1f} kB, {len(gzip.compress(data, 9)) / 1e3:.1f} kB gzipped; "
        f"PSNR {rounded:.2f} dB against the photo; rounding its weights cost {exact - rounded:.2f} dB) "
        f"to {quoted(path)}"
    )


def render_image(run, log):
    """--just_image: the saved model as a picture, and as the SVG and page asked for."""
    if run.stored is None:
        raise ConfigError("--just_image needs a model: give it with -m MODEL.pkl")
    c, o = run.config, run.options
    exports = o.exports()
    if not exports or o.output is not None:
        run.check_render_size(c.disp_mult)
    writers = {"svg": export_svg, "html": export_html}
    for option, path in exports:
        writers[option](run, path, log)
    if exports and o.output is None:
        return 0
    trainer = run.trainer()
    path = o.output or paths.render_path(run.output_dir, run.name, c.disp_mult, c.border)
    started = time.perf_counter()
    picture = render_run(run, trainer, c.disp_mult, c.border, hard=o.hard)
    write_image(picture, path)
    h, w = picture.shape[:2]
    log(f"rendered {w}x{h} in {time.perf_counter() - started:.1f} s to {quoted(path)}")
    if o.show:
        app = app_or_none(log)
        if app is not None:
            from .window import show_until_closed

            show_until_closed(run.train_image, picture, f"scalefree: {os.path.basename(path)}", app)
    return 0
