"""Many images in one go: `-i` with several files, a folder or a glob.

One model per image, trained one after another in one process, so
TensorFlow starts once. Each image gets its checkpoint and a render in the
output folder (and an SVG, page or model data file in the folders --svg,
--html and --model_data name);
a ledger there (done.jsonl) records each image finished, so the same
command run again skips those and resumes an image that was stopped
midway from its checkpoint. A file that cannot be read is reported and
skipped. The last lines are a table: image, PSNR, seconds, files written.
"""

import dataclasses
import glob
import json
import os
import threading
import time

from ..config import Config, ConfigError
from ..errors import UserError
from ..formats import paths
from ..formats.images import write_image
from ..formats.streams import kind_of
from . import signals
from .run import Run, quoted
from .training import print_line, train

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
LEDGER = "done.jsonl"
_GLOB_CHARACTERS = "*?["


def expand(inputs):
    """The image files that -i names: files as given, folders' images (sorted), globs' matches (sorted)."""
    found = []
    for item in inputs:
        if os.path.isdir(item):
            names = sorted(n for n in os.listdir(item) if n.lower().endswith(IMAGE_EXTENSIONS))
            found += [os.path.join(item, n) for n in names]
        elif not os.path.exists(item) and any(c in item for c in _GLOB_CHARACTERS):
            found += sorted(glob.glob(item))
        else:
            found.append(item)
    unique = list(dict.fromkeys(found))
    if not unique:
        raise ConfigError(f"no images in {', '.join(inputs)} ({', '.join(IMAGE_EXTENSIONS)})")
    return unique


def is_batch(inputs):
    """Whether -i asks for more than one model (several paths, a folder or a glob)."""
    return len(inputs) > 1 or len(expand(inputs)) > 1 or os.path.isdir(inputs[0])


def _ledger(output_dir, warn):
    """Images finished before: their ledger records, by (image, checkpoint) as absolute paths."""
    done, path = {}, os.path.join(output_dir, LEDGER)
    if not os.path.exists(path):
        return done
    with open(path, "rb") as f:
        for line in f:
            try:
                record = json.loads(line.decode("utf-8"))
                done[record["image"], record["checkpoint"]] = record
            except (ValueError, KeyError, TypeError):
                if line.strip():
                    warn(f"warning: skipped a line of {path} that is not a record")
    return done


@dataclasses.dataclass
class Row:
    image: str
    outcome: str  # "trained", "done before", "stopped", or why it failed
    psnr: float | None = None
    seconds: float | None = None
    files: list = dataclasses.field(default_factory=list)


def learn_many(inputs, options, config_typed, log=None):
    """Train one model per image; return the exit code. A first stop signal ends the image under way
    (saved) and the batch; if no image could be trained at all, that is the error."""
    log = log or print_line

    if options.model_file or options.just_image:
        raise ConfigError("several images train several new models: -m and --just_image take one model")
    config = Config(**config_typed).validate()
    if not (config.cycles or config.max_seconds or config.target_psnr):
        raise ConfigError("with several images, say when each stops: -c, --max_seconds or --target_psnr")
    images = expand(inputs)
    output_dir = options.output_dir or paths.DEFAULT_OUTPUT_DIR
    done = {} if options.overwrite else _ledger(output_dir, log)
    stop = threading.Event()
    rows = []
    pool = []  # trainers whose traced step the next image of the same size reuses
    with signals.stop_on_interrupt(stop, lambda: "each finished image is saved", log):
        _train_all(images, options, config_typed, output_dir, done, stop, rows, log, pool)
    for line in summary(rows, len(images)):
        log(line)
    if stop.is_set():
        log(f"stopped; run the same command again to go on from {quoted(rows[-1].image)}")
    elif rows and all(r.outcome.startswith("failed") for r in rows):
        raise UserError(f"none of the {len(rows)} images could be trained")
    return 0


def _train_all(images, options, config_typed, output_dir, done, stop, rows, log, pool):
    for number, image in enumerate(images, 1):
        if stop.is_set():
            break
        try:
            # Not opened: a FIFO in a folder would wait for a writer, a device never end.
            kind = kind_of(os.stat(image).st_mode) if os.path.exists(image) else "a regular file"
            if kind != "a regular file":
                raise ConfigError(f"it is {kind}; a batch reads regular files only")
            one = dataclasses.replace(
                options, input_image=image, output_dir=output_dir, no_display=True, svg=None, html=None, model_data=None
            )
            run = Run.open(one, config_typed)
            # Done before with these settings: its record names the checkpoint these settings would write.
            record = done.get((os.path.abspath(image), os.path.abspath(run.checkpoint_path)))
            if record and os.path.exists(run.checkpoint_path):
                rows.append(Row(image, "done before", record.get("psnr"), record.get("seconds"), record["files"]))
                continue
            log(f"[{number}/{len(images)}] {image}")
            row = _one(run, options, config_typed, log, stop, pool)
        except UserError as err:
            log(f"skipped {quoted(image)}: {err}")
            rows.append(Row(image, f"failed: {err}"))
            continue
        rows.append(row)
        if row.outcome == "trained":
            record = {"image": os.path.abspath(image), "checkpoint": os.path.abspath(row.files[0])}
            record.update(psnr=row.psnr, seconds=row.seconds, files=row.files)
            with open(os.path.join(output_dir, LEDGER), "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")


def _one(run, options, config_typed, log, stop, pool):
    """Train (or resume) the model of one image, then write its render and exports."""
    from .exports import export_html, export_model_data, export_svg

    image, output_dir = run.options.input_image, run.output_dir
    frames = os.path.join(options.save_frames, run.name) if options.save_frames else None
    resume = os.path.exists(run.checkpoint_path) and not options.overwrite
    # Stopped midway last time: go on from its checkpoint.
    one = dataclasses.replace(run.options, save_frames=frames, model_file=run.checkpoint_path if resume else None)
    run = Run.open(one, config_typed)
    started = time.perf_counter()
    trained = train(run, log, stop=stop, pool=pool).trained
    seconds = time.perf_counter() - started
    files = [run.checkpoint_path, *filter(None, [trained.sketch_path])]
    if stop.is_set():
        return Row(image, "stopped", trained.psnr, seconds, files)
    c = run.config
    run.check_render_size(c.disp_mult)
    model = trained.model()
    render = paths.render_path(output_dir, run.name, c.disp_mult, c.border)
    # The partition, as frames, the SVG and the page draw it: a tenth of the time of the function at every pixel.
    write_image(run.render(model, c.disp_mult, c.border, hard=True), render)
    files.append(render)
    if model.has_partition:
        for folder, export, ext in (
            (options.svg, export_svg, ".svg"),
            (options.html, export_html, ".html"),
            (options.model_data, export_model_data, ".sfm"),
        ):
            if folder:
                os.makedirs(folder, exist_ok=True)
                path = os.path.join(folder, run.name + ext)
                export(run, model, path, log)
                files.append(path)
        if c.max_bytes is not None and not options.model_data:  # a budget: the data file beside the checkpoint
            export_model_data(run, model, paths.data_path(run.checkpoint_path), log)
            files.append(paths.data_path(run.checkpoint_path))
    return Row(image, "trained", trained.psnr, seconds, files)


def summary(rows, total):
    """The batch's table, as lines: image, PSNR, seconds, files written."""
    width = max([5] + [len(r.image) for r in rows])
    lines = [f"{'image':<{width}}  {'PSNR':>6}  {'seconds':>7}  files"]
    for r in rows:
        psnr = f"{r.psnr:6.2f}" if r.psnr is not None else f"{'-':>6}"
        seconds = f"{r.seconds:7.1f}" if r.seconds is not None else f"{'-':>7}"
        what = ", ".join(r.files) if r.outcome == "trained" else f"({r.outcome}) " + ", ".join(r.files)
        lines.append(f"{r.image:<{width}}  {psnr}  {seconds}  {what}".rstrip())
    counts = {o: sum(r.outcome == o for r in rows) for o in ("trained", "done before", "stopped")}
    failed = sum(r.outcome.startswith("failed") for r in rows)
    lines.append(
        f"{counts['trained']} trained, {counts['done before']} done before, {failed} failed, "
        f"{counts['stopped']} stopped, {total - len(rows)} not reached, of {total} images"
    )
    return lines
