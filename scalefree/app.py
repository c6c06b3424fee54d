"""What image_learn.py does, as functions: set up a run from options, train, render.

Everything here reports through `log` (one line at a time) and raises
UserError for anything the user can fix; exiting is the CLI's job.
"""

import contextlib
import gc
import gzip
import json
import os
import shlex
import signal
import sys
import threading
import time

import numpy as np

from . import paths
from .atomic import OutputError, held, write_text
from .checkpoint import Checkpoint
from .config import RENDER_PIXEL_LIMIT, Config, ConfigError, field_names
from .coords import output_shape
from .errors import Diverged
from .history import History
from .images import BUNDLED_IMAGE, downscale, read_bundled_image, read_image, working_factor, write_image

UNIT_NAMES = {"linear": "lines", "circular": "circles", "relu": "relu units"}


def _print(line):
    from tqdm import tqdm

    # Through tqdm, so that a progress bar on the terminal is cleared first and redrawn after.
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


def quoted(path):
    """A path as it can be pasted into a shell (bytes that are not UTF-8 shown as \\x escapes)."""
    return shlex.quote(os.fsencode(str(path)).decode("utf-8", "backslashreplace"))


def plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _ensure_writable(directory, what):
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create {what} {quoted(directory)}: {err.strerror or err}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {quoted(directory)} is not writable")


def _config_fields(typed):
    names = set(field_names())
    return {k: v for k, v in typed.items() if k in names}


class Run:
    """A model, the image it learns and where its outputs go, from typed options.

    The photo is kept whole; training sees `train_image`, the photo shrunk by
    -p or, by default, to about `pixel_budget` pixels. Both span the same
    plane, so the model covers the whole photo and renders at its own size.
    """

    def __init__(self, typed):
        self.typed = typed
        self.output_dir = typed.get("output_dir", paths.DEFAULT_OUTPUT_DIR)
        self.frames_dir = typed.get("save_frames")
        self.stored = None
        if "model_file" in typed:
            self.stored = Checkpoint.read(typed["model_file"])
            self.image = self.stored.image
            self.image_name = self.stored.image_name
            self.cycle = self.stored.cycle
            self.config = self.stored.config.merged(_config_fields(typed))
        else:
            self.config = Config(**_config_fields(typed))
            self.image = None
            self.image_name = None
            self.cycle = 0
        self.config.validate()
        if "input_image" in typed:
            self.image = read_image(typed["input_image"])
            self.image_name = os.path.basename(typed["input_image"])
        elif self.image is None:
            self.image = read_bundled_image()
            self.image_name = BUNDLED_IMAGE
        self.factor = working_factor(*self.photo_size, self.config.downscale, self.config.pixel_budget)
        self.train_image = downscale(self.image, self.factor)
        if self.stored is not None and "output_dir" not in typed:
            # A resumed run goes on updating the file it came from.
            self.checkpoint_path = typed["model_file"]
            self.output_dir = os.path.dirname(os.path.abspath(self.checkpoint_path))
        else:
            self.checkpoint_path = paths.checkpoint_path(self.output_dir, self.image_name, self.config, self.size)

    @property
    def size(self):
        """(height, width) of the training picture."""
        return self.train_image.shape[:2]

    @property
    def photo_size(self):
        """(height, width) of the photo itself: renders, frames and SVG default to it."""
        return self.image.shape[:2]

    def check_render_size(self, mult, what="render"):
        """Refuse, before any work, a render or frame larger than --max_render_pixels."""
        limit = self.typed.get("max_render_pixels", RENDER_PIXEL_LIMIT)
        out_h, out_w = output_shape(*self.photo_size, mult)
        if out_h * out_w > limit:
            raise ConfigError(
                f"a {what} at -x {mult:g} is {out_w}x{out_h} ({out_w * out_h / 1e6:.0f} megapixels), "
                f"more than --max_render_pixels {limit}; raise it to draw it anyway"
            )

    def refuse_overwrite(self):
        """A new run never replaces a model it did not start from."""
        resumed_in_place = self.stored is not None and self.checkpoint_path == self.typed.get("model_file")
        if resumed_in_place or self.typed.get("overwrite") or not os.path.exists(self.checkpoint_path):
            return
        path = quoted(self.checkpoint_path)
        raise ConfigError(f"{path} exists already: resume it with -m {path}, or add --overwrite to start it afresh")

    def trainer(self, strategy=None, on_placed=None):
        from .train import Trainer  # TensorFlow loads here, not for --help

        s = self.stored
        if s is None:
            return Trainer(self.config, self.train_image, strategy=strategy, on_placed=on_placed)
        return Trainer(self.config, self.train_image, s.weights, s.optimizer, s.epoch, strategy)


def render_run(run, trainer, mult, border, hard=False, at_training_size=False):
    """The run's picture at `mult` x the photo's size (or the training size), widened by `border`.

    Line and circle models render by their partition (hard edges, one colour
    a region, fast at any size) when asked or when the render has more
    pixels than training saw, where the trained tanh would blur edges;
    otherwise by evaluating the network, which is exactly what training sees.
    """
    from .model import partition_weights
    from .render import render, render_partition

    h, w = run.size if at_training_size else run.photo_size
    out_h, out_w = output_shape(h, w, mult)
    train_h, train_w = run.size
    if run.config.type != "relu" and (hard or out_h * out_w > train_h * train_w):
        return render_partition(run.config.type, *partition_weights(trainer.model), h, w, mult, border)
    return render(trainer.predict, h, w, mult, border)


class Training:
    """The per-cycle work of a training run: log, checkpoint, frame, preview."""

    def __init__(self, run, log=_print, show=None):
        # Checked before the slow start of TensorFlow, not after a first cycle.
        run.refuse_overwrite()
        if run.frames_dir:
            run.check_render_size(run.config.disp_mult, "frame")
            _ensure_writable(run.frames_dir, "frames directory")
        self.run = run
        self.log = log
        self.show = show
        self.saved_cycle = None
        self.frames_written = 0
        self.name = paths.run_name(run.image_name, run.config, run.size)
        self.history = run.stored.history if run.stored else History()
        log(self.start_message())
        self.trainer = self._build_trainer()

    def start_message(self):
        r, c = self.run, self.run.config
        (h, w), (ph, pw) = r.size, r.photo_size
        what = f"resuming at cycle {r.cycle}:" if r.stored else "learning"
        units = UNIT_NAMES[c.type]
        if (h, w) == (ph, pw):
            size = f"{w}x{h}, every pixel"
        else:
            size = f"{pw}x{ph}, trained at {w}x{h}: -p {r.factor:.3g}; -p 1 trains on every pixel"
        decay = f", decaying over {c.lr_decay_steps} steps" if c.lr_decay_steps else ""
        return (
            f"{what} {r.image_name} ({size}) with {c.n_dividers} {units} and {c.n_hidden} colour units, "
            f"batch {c.batch_size}, {c.optimizer} lr {c.learning_rate:g} (dividers x{c.divider_lr_scale:g}"
            f"{decay}); checkpoints to {quoted(r.checkpoint_path)}"
        )

    def _build_trainer(self):
        from tqdm import tqdm

        c = self.run.config
        placing = self.run.stored is None and c.placement != "random" and c.type != "relu"
        what = UNIT_NAMES[c.type]
        if "tensorflow" not in sys.modules:
            # A few seconds on most machines: long enough to say what is going on.
            self.log("loading TensorFlow" + (f", then placing {c.n_dividers} {what}" if placing else ""))
        with tqdm(
            total=c.n_dividers,
            desc=f"placing {what} ({c.placement})",
            unit=what,
            delay=1.0,
            leave=False,
            disable=None if placing else True,
        ) as bar:
            return self.run.trainer(on_placed=bar.update)

    def on_cycle(self, result):
        self.history.add(result)
        self.run.cycle = result.cycle
        self.log(
            f"cycle {result.cycle:5d}  loss {result.loss:.5f}  PSNR {result.psnr:6.2f} dB  "
            f"{result.seconds:6.2f} s  {result.pixels_per_second / 1e6:6.2f} Mpx/s"
        )
        self.save()
        c = self.run.config
        if self.run.frames_dir:
            self._save_frame(result, render_run(self.run, self.trainer, c.disp_mult, c.border))
        if self.show:
            self.show(
                render_run(self.run, self.trainer, 1.0, 0.0, at_training_size=True),
                result,
                self.trainer.model.get_layer("dividers").get_weights(),
            )

    def save(self):
        r, t = self.run, self.trainer
        Checkpoint(
            config=r.config,
            image=r.image,
            image_name=r.image_name,
            weights=t.model.get_weights(),
            cycle=r.cycle,
            epoch=t.epoch,
            optimizer=t.optimizer_weights(),
            history=self.history,
        ).write(r.checkpoint_path)
        self.saved_cycle = r.cycle

    def _save_frame(self, result, picture):
        r = self.run
        path = paths.frame_path(r.frames_dir, self.name, result.cycle)
        write_image(picture, path)
        record = {"file": os.path.basename(path), **vars(result), "parameters": r.config.to_dict()}
        metadata = paths.frames_metadata_path(r.frames_dir)
        try:
            with open(metadata, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            raise OutputError(f"cannot write {quoted(metadata)}: {err.strerror or err}") from None
        self.frames_written += 1

    def kept(self):
        """What is on disk now, for a message about stopping."""
        if self.saved_cycle is not None:
            return f"{quoted(self.run.checkpoint_path)} holds cycle {self.saved_cycle}"
        if self.run.stored is not None:
            return f"{quoted(self.run.typed['model_file'])} is as it was"
        return "nothing was saved"

    def train(self, stop_event):
        """Train until a stop condition; return the reason."""
        from .train import run_cycles

        with _progress(self.trainer, self.run.config.epochs_per_cycle) as on_steps:
            return run_cycles(self.trainer, self.run.cycle, stop_event, self.on_cycle, on_steps)


@contextlib.contextmanager
def _progress(trainer, epochs_per_cycle):
    """A progress bar over a cycle's steps, shown only when a cycle is slow."""
    from tqdm import tqdm

    total = trainer.steps_per_epoch * epochs_per_cycle
    state = {"bar": None, "done": 0}

    def on_steps(n):
        if state["bar"] is None or state["done"] >= total:
            if state["bar"] is not None:
                state["bar"].close()
            state["bar"] = tqdm(
                total=total,
                desc=f"cycle {trainer.epoch // epochs_per_cycle + 1}",
                unit="step",
                delay=2.0,
                leave=False,
                disable=None,
            )
            state["done"] = 0
        state["bar"].update(n)
        state["done"] += n

    try:
        yield on_steps
    finally:
        if state["bar"] is not None:
            state["bar"].close()


# What `docker stop`, systemd and batch schedulers send, and a closed
# terminal: each treated as Ctrl-C, so a stopped run keeps its last epoch.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _signals(handler):
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def stop_on_interrupt(stop_event, kept, log=_print):
    """The first stop signal sets `stop_event` (finish the epoch, save, exit 0); a second one aborts.

    `kept()` says what is on disk at that moment, for the message.
    """

    def handler(signum, frame):
        if stop_event.is_set():
            raise KeyboardInterrupt
        stop_event.set()
        log(f"{signal.Signals(signum).name}: stopping after this epoch, then saving (Ctrl-C again to abort: {kept()})")

    return _signals(handler)


def _window_app(log):
    """The VisPy app for a preview window, or None (with a notice) when there can be none."""
    from .window import NoWindow, load_app

    try:
        return load_app()
    except NoWindow as err:
        log(f"no preview window ({err}); going on without it")
        return None


def learn(typed, log=_print, command="scalefree"):
    """Train, resume or render as the typed options say; `command` is how the user started us, for hints."""
    for option, what, ext in (("svg", "partition", ".svg"), ("html", "page", ".html")):
        if option not in typed:
            continue
        if not typed.get("just_image"):
            raise ConfigError(f"--{option} writes a saved model's {what}: use it with --just_image -m MODEL.pkl")
        if not typed[option].lower().endswith(ext):
            raise ConfigError(f"--{option} {typed[option]}: the file name should end in {ext}")
    run = Run(typed)
    if typed.get("just_image"):
        return render_image(run, typed, log)
    app = None if typed.get("no_display") else _window_app(log)
    mailbox = None
    if app is not None:
        from .window import Mailbox

        mailbox = Mailbox()
    training = None
    _ensure_writable(os.path.dirname(os.path.abspath(run.checkpoint_path)), "output directory")
    try:
        with held(run.checkpoint_path):
            with _signals(_interrupt):  # before training: stop at once, as Ctrl-C does
                training = Training(run, log, show=mailbox and _frame_sender(run, mailbox))
            reason = _train(training, app, mailbox, log)
    except Diverged as err:
        raise Diverged(f"{err}; {training.kept()} (try a smaller -l)") from None
    except KeyboardInterrupt:
        # A second Ctrl-C, or one before training started: say what is on disk.
        raise KeyboardInterrupt(f"aborted; {training.kept() if training else 'nothing was saved'}") from None
    log(f"{reason} after {training.elapsed:.1f} s; model saved to {quoted(run.checkpoint_path)}")
    if run.frames_dir:
        log(f"{plural(training.frames_written, 'frame')} written to {quoted(run.frames_dir)}")
    model = quoted(run.checkpoint_path)
    mult = "" if max(run.photo_size) > 1024 else " -x 4"
    log(f"to resume: {command} -m {model}")
    log(f"to render: {command} --just_image -m {model}{mult}")
    return 0


def _train(training, app, mailbox, log):
    run = training.run
    stop = threading.Event()
    started = time.perf_counter()
    with stop_on_interrupt(stop, training.kept, log):
        if app is None:
            reason = training.train(stop)
        else:
            from .window import run_with_window

            # Tracing leaves TensorFlow garbage whose finalizers call into the
            # runtime. Collected from the main thread while the worker ran a
            # step (VisPy's glfw backend calls gc.collect() when a window
            # closes), it stalled or deadlocked the step. So: trace, collect,
            # and freeze what is left out of later collections.
            training.trainer.warm_up()
            gc.collect()
            gc.freeze()
            title = f"scalefree: {training.name}"
            reason = run_with_window(run.train_image, lambda: training.train(stop), stop, mailbox, title, app)
    training.elapsed = time.perf_counter() - started
    return reason


def _frame_sender(run, mailbox):
    """What the training thread calls after each cycle to hand the window a frame."""
    from .geometry import divider_segments
    from .window import status_line

    h, w = run.size

    def send(frame, result, divider_weights):
        segments = None
        if run.config.type != "relu":
            segments = divider_segments(run.config.type, divider_weights, h, w)
        mailbox.put((frame, status_line(result), segments))

    return send


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


def export_svg(run, path, log=_print):
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


def export_html(run, path, log=_print):
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


def render_image(run, typed, log=_print):
    if run.stored is None:
        raise ConfigError("--just_image needs a model: give it with -m MODEL.pkl")
    c = run.config
    exports = [option for option in ("svg", "html") if option in typed]
    if not exports or "output" in typed:
        run.check_render_size(c.disp_mult)
    if "svg" in typed:
        export_svg(run, typed["svg"], log)
    if "html" in typed:
        export_html(run, typed["html"], log)
    if exports and "output" not in typed:
        return 0
    trainer = run.trainer()
    name = paths.run_name(run.image_name, c, run.size)
    path = typed.get("output") or paths.render_path(run.output_dir, name, c.disp_mult, c.border)
    started = time.perf_counter()
    picture = render_run(run, trainer, c.disp_mult, c.border, hard=typed.get("hard", False))
    write_image(picture, path)
    h, w = picture.shape[:2]
    log(f"rendered {w}x{h} in {time.perf_counter() - started:.1f} s to {quoted(path)}")
    if typed.get("show"):
        app = _window_app(log)
        if app is not None:
            from .window import show_until_closed

            show_until_closed(run.train_image, picture, f"scalefree: {os.path.basename(path)}", app)
    return 0
