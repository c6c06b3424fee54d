"""What image_learn.py does: train or resume a run (exports.py renders a saved one).

Training logs a line per cycle and calls the per-cycle hooks (hooks.py);
this module adds the progress bar, stop signals and the preview window.
Everything here reports through `log` (one line at a time) and raises
UserError for anything the user can fix; exiting is the CLI's job.
"""

import contextlib
import gc
import os
import signal
import sys
import threading
import time

from . import paths
from .atomic import held
from .config import new_seed
from .errors import Diverged
from .history import History
from .hooks import CheckpointWriter, FrameWriter, PreviewSender
from .images import picture_psnr, write_image
from .run import UNIT_NAMES, Run, ensure_writable, plural, quoted
from .window import app_or_none


def _print(line):
    from tqdm import tqdm

    # Through tqdm, so that a progress bar on the terminal is cleared first and redrawn after.
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


class Training:
    """The per-cycle work of a training run: log, checkpoint, frame, preview."""

    def __init__(self, run, log=_print, mailbox=None):
        # Checked before the slow start of TensorFlow, not after a first cycle.
        if run.is_chief:
            run.refuse_overwrite()
        if run.frames_dir and run.is_chief:
            run.check_render_size(run.config.disp_mult, "frame")
            ensure_writable(run.frames_dir, "frames directory")
        self.run = run
        self.log = log
        self.name = run.name
        self.sketch_path = None
        self.best = None  # (CycleResult, Trainer.snapshot()) of this run's best cycle
        self.history = run.stored.history if run.stored else History()
        self.checkpoints = CheckpointWriter(run, self.history)
        self.frames = FrameWriter(run) if run.frames_dir else None
        self.hooks = [self.checkpoints] + [h for h in (self.frames, mailbox and PreviewSender(run, mailbox)) if h]
        if not run.is_chief:
            self.hooks = []  # the chief writes the files; the other workers only train
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
        r, c = self.run, self.run.config
        dividers = seed = None
        if r.stored is None and c.places_dividers:
            seed = next(s for s in (c.seed, r.shared_seed, new_seed()) if s is not None)
            dividers = self._place(seed)
        if "tensorflow" not in sys.modules:
            # A few seconds on most machines: long enough to say what is going on.
            self.log("loading TensorFlow")
        return r.trainer(dividers=dividers, seed=seed)

    def _place(self, seed):
        """Place a new model's dividers (numpy only: TensorFlow is not needed yet) and show what they draw."""
        from tqdm import tqdm

        from .init import place
        from .sketch import sketch

        r, c = self.run, self.run.config
        what = UNIT_NAMES[c.type]
        started = time.perf_counter()
        with tqdm(
            total=c.n_dividers, desc=f"placing {what} ({c.placement})", unit=what, delay=1.0, leave=False, disable=None
        ) as bar:
            dividers = place(r.train_image, c, seed, bar.update)
        if r.is_chief:
            picture = sketch(r.train_image, c.type, dividers)
            path = paths.sketch_path(r.output_dir, r.name)
            write_image(picture, path)
            self.sketch_path = path
            self.log(
                f"placed {c.n_dividers} {what} in {time.perf_counter() - started:.1f} s; each region they make "
                f"painted its mean colour: PSNR {picture_psnr(picture, r.train_image):.2f} dB, {quoted(path)}"
            )
        return dividers

    def on_cycle(self, result):
        self.history.add(result)
        self.run.cycle = result.cycle
        self.log(
            f"cycle {result.cycle:5d}  loss {result.loss:.5f}  PSNR {result.psnr:6.2f} dB  "
            f"{result.seconds:6.2f} s  {result.pixels_per_second / 1e6:6.2f} Mpx/s"
        )
        if self.best is None or result.psnr > self.best[0].psnr:
            self.best = (result, self.trainer.snapshot())
        for hook in self.hooks:
            hook(result, self.trainer)

    def keep_best(self):
        """End the run on its best cycle: restore and save it if a later one drew worse.

        The dividers and colours wander from cycle to cycle (a step that moves
        a divider repaints a band of pixels), so the last cycle is not always
        the best; the PSNR each cycle reports is over the whole training
        image, the measure of the picture itself.
        """
        last = self.history.cycles[-1] if self.history.cycles else None
        if self.best is None or last is None or self.best[0].psnr <= last.psnr:
            return
        best, snapshot = self.best
        self.trainer.restore(snapshot)
        if self.run.is_chief:
            self.checkpoints(best, self.trainer)
        self.log(f"kept cycle {best.cycle}, the best this run: PSNR {best.psnr:.2f} dB (the last had {last.psnr:.2f})")

    @property
    def psnr(self):
        """The PSNR of the model the run ends with (the stored one's, or None, if no cycle ran)."""
        if self.best:
            return self.best[0].psnr
        return self.history.cycles[-1].psnr if self.history.cycles else None

    @property
    def frames_written(self):
        return self.frames.written if self.frames else 0

    def kept(self):
        """What is on disk now, for a message about stopping."""
        if self.checkpoints.saved_cycle is not None:
            return f"{quoted(self.run.checkpoint_path)} holds cycle {self.checkpoints.saved_cycle}"
        if self.run.stored is not None:
            return f"{quoted(self.run.options.model_file)} is as it was"
        return "nothing was saved"

    def train(self, stop_event):
        """Train until a stop condition; return the reason."""
        from .train import run_cycles

        with _progress(self.trainer, self.run.config.epochs_per_cycle) as on_steps:
            reason = run_cycles(self.trainer, self.run.cycle, stop_event, self.on_cycle, on_steps)
        self.keep_best()
        return reason


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


def learn(options, config_typed=None, log=_print, command="scalefree"):
    """Train, resume or render as `options` (RunOptions) and the typed Config fields say.

    `command` is how the user started us, for the hints at the end.
    """
    options.exports()  # an impossible export is refused before anything is read
    run = Run(options, config_typed)
    if options.just_image:
        from .exports import render_image

        return render_image(run, log)
    app = None if options.no_display or not run.is_chief else app_or_none(log)
    training = train_run(run, log, app)
    if not run.is_chief:
        log(f"{training.reason} after {training.elapsed:.1f} s; this worker is done (the chief saves the model)")
        return 0
    log(f"{training.reason} after {training.elapsed:.1f} s; model saved to {quoted(run.checkpoint_path)}")
    if run.frames_dir:
        log(f"{plural(training.frames_written, 'frame')} written to {quoted(run.frames_dir)}")
    model = quoted(run.checkpoint_path)
    mult = "" if max(run.photo_size) > 1024 else " -x 4"
    log(f"to resume: {command} -m {model}")
    log(f"to render: {command} --just_image -m {model}{mult}")
    return 0


def train_run(run, log=_print, app=None, stop=None):
    """Train `run` until it stops (its reason in `.reason`); return the Training, its model saved.

    With `app`, a preview window shows each cycle. `stop` (a threading.Event)
    is set by the first stop signal; one shared by several runs stops them all.
    """
    mailbox = None
    if app is not None:
        from .window import Mailbox

        mailbox = Mailbox()
    training = None
    if run.is_chief:
        ensure_writable(os.path.dirname(os.path.abspath(run.checkpoint_path)), "output directory")
    try:
        with held(run.checkpoint_path) if run.is_chief else contextlib.nullcontext():
            with _signals(_interrupt):  # before training: stop at once, as Ctrl-C does
                training = Training(run, log, mailbox)
            training.reason = _train(training, app, mailbox, log, stop or threading.Event())
    except Diverged as err:
        raise Diverged(f"{err}; {training.kept()} (try a smaller -l)") from None
    except KeyboardInterrupt:
        # A second Ctrl-C, or one before training started: say what is on disk.
        raise KeyboardInterrupt(f"aborted; {training.kept() if training else 'nothing was saved'}") from None
    return training


def _train(training, app, mailbox, log, stop):
    run = training.run
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
