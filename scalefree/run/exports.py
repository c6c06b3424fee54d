"""A saved model as files: a render (--just_image), its partition as SVG (--svg), a page that draws it (--html),
the model alone for the web viewer (--model_data).

All of it is numpy: nothing here loads TensorFlow.
"""

import gzip
import os
import time

from ..config import ConfigError
from ..formats import paths
from ..formats.atomic import write_text
from ..formats.images import write_image
from ..plane.pictures import picture_psnr
from .run import quoted
from .window import app_or_none


def _partitioned(model):
    if not model.has_partition:
        raise ConfigError("a relu model has no exact partition to write as SVG or a page; render it as a PNG instead")
    return model


def export_svg(run, model, path, log):
    """Write the model's partition, in the view set by -x and -b, as SVG."""
    from ..formats.svg import svg_document
    from ..plane.arrangement import view_of

    c = run.config
    started = time.perf_counter()
    about = f"{_partitioned(model).description()}; view x{c.disp_mult:g}, border {c.border:g}"
    document, n_cells = svg_document(model, view_of(*run.photo_size, c.disp_mult, c.border), about)
    write_text(path, document)
    log(
        f"wrote {n_cells} regions ({len(document) / 1e3:.0f} kB) in {time.perf_counter() - started:.1f} s "
        f"to {quoted(path)}"
    )


def export_html(run, model, path, log):
    """Write the page that draws the model, and say what its rounded weights cost against the photo."""
    from ..formats.page import page

    c = run.config
    document, drawn = page(
        _partitioned(model),
        about=model.description(),
        title=f"{run.image_name}: {c.n_dividers} {c.type} dividers",
        photo=run.look,
        max_bytes=run.config.max_bytes,
    )
    write_text(path, document)
    exact, rounded = _against_photo(run, model, drawn)
    data = document.encode()
    log(
        f"wrote the page ({len(data) / 1e3:.1f} kB, {len(gzip.compress(data, 9)) / 1e3:.1f} kB gzipped; "
        f"PSNR {rounded:.2f} dB against the photo; rounding cost {exact - rounded:.2f} dB) "
        f"to {quoted(path)}"
    )


def export_model_data(run, model, path, log):
    """Write the model data file, and say what it costs, what rounding cost, and how to show it."""
    from ..formats.atomic import write_bytes
    from ..formats.modeldata import model_data
    from ..formats.page import viewer_path

    data, drawn = model_data(_partitioned(model), photo=run.look, max_bytes=run.config.max_bytes)
    write_bytes(path, data)
    exact, rounded = _against_photo(run, model, drawn)
    log(
        f"wrote the model data ({len(data):,} bytes; PSNR {rounded:.2f} dB against the photo; rounding "
        f"cost {exact - rounded:.2f} dB) to {quoted(path)}; a page shows it with "
        f'<scalefree-image src="{os.path.basename(path)}"> and the viewer {viewer_path()}'
    )


def _against_photo(run, model, drawn):
    """PSNR of the model and of its rounded copy against the training picture (or, when not held, its look)."""
    photo = run.look
    return (picture_psnr(m.render(size=photo.shape[:2]), photo) for m in (model, drawn))


WRITERS = {"svg": export_svg, "html": export_html, "model_data": export_model_data}


def render_image(run, log):
    """--just_image: the saved model as a picture, and as the SVG and page asked for."""
    if run.stored is None:
        raise ConfigError("--just_image needs a model: give it with -m MODEL.pkl")
    c, o = run.config, run.options
    # Options typed now (the sharpness) draw the stored weights.
    model = run.stored.replace(sharpness=c.sharpness)
    exports = o.exports()
    if not exports or o.output is not None:
        run.check_render_size(c.disp_mult)
    for option, path in exports:
        WRITERS[option](run, model, path, log)
    if exports and o.output is None:
        return 0
    path = o.output or paths.render_path(run.output_dir, run.name, c.disp_mult, c.border)
    started = time.perf_counter()
    picture = run.render(model, c.disp_mult, c.border, hard=o.hard)
    write_image(picture, path)
    h, w = picture.shape[:2]
    log(f"rendered {w}x{h} in {time.perf_counter() - started:.1f} s to {quoted(path)}")
    if o.show:
        app = app_or_none(log)
        if app is not None:
            from .window import show_until_closed

            show_until_closed(run.look, picture, f"scalefree: {os.path.basename(path)}", app)
    return 0
