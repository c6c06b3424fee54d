"""Training a run: place a new model's dividers, load TensorFlow, train cycle after cycle, end on the best.

`train(run)` is the one way in, for one image, a folder of them, and the
Python API. Each cycle logs a line and calls the hooks (hooks.py:
checkpoint, frame, preview); this module adds the first picture, the
progress bar, stop signals and the preview window. Everything here reports
through `log` (one line at a time) and raises UserError for anything the
user can fix; exiting is the command line's job.
"""

import contextlib
import dataclasses
import gc
import math
import os
import sys
import threading
import time

from ..config import new_seed
from ..errors import Diverged
from ..formats import paths
from ..formats.atomic import held
from ..formats.images import write_image
from ..history import CycleResult, History
from ..model import TrainingState
from ..plane.pictures import picture_psnr
from . import signals
from .hooks import CheckpointWriter, FrameWriter, PreviewSender
from .run import ensure_writable, quoted


def print_line(line):
    from tqdm import tqdm

    # Through tqdm, so that a progress bar on the terminal is cleared first and redrawn after.
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


class TrainedRun:
    """A run being trained: its Trainer, its history, the best cycle so far, and the per-cycle hooks."""

    def __init__(self, run, log=print_line, mailbox=None, on_cycle=None):
        # Checked before the slow start of TensorFlow, not after a first cycle.
        if run.is_chief:
            run.refuse_overwrite()
        if run.frames_dir and run.is_chief:
            run.check_render_size(run.config.disp_mult, "frame")
            ensure_writable(run.frames_dir, "frames directory")
        self.run = run
        self.log = log
        self.cycle = run.cycle
        self.sketch_path = None
        self.best = None  # (CycleResult, Trainer.snapshot()) of this run's best cycle
        self.history = run.stored.training.history if run.stored else History()
        self.checkpoints = CheckpointWriter(run.checkpoint_path) if run.checkpoint_path else None
        self.frames = FrameWriter(run) if run.frames_dir else None
        hooks = [self.checkpoints, self.frames, mailbox and PreviewSender(run, mailbox)]
        # The chief writes the files; the other workers only train.
        self.hooks = [h for h in hooks if h] if run.is_chief else []
        self.on_cycle_callback = on_cycle
        log(self.start_message())
        self.trainer = self._build_trainer()
        if run.stored is not None:
            # The model a run starts from is a candidate for the one it ends with:
            # a resumed run never ends on a model worse than it was given.
            start = CycleResult(self.cycle, math.nan, self.trainer.psnr(), 0.0, 0.0, 0)
            self.best = (start, self.trainer.snapshot())

    def start_message(self):
        r, c = self.run, self.run.config
        (h, w), (ph, pw) = r.size, r.photo_size
        what = f"resuming at cycle {r.cycle}:" if r.stored else "learning"
        if (h, w) == (ph, pw):
            size = f"{w}x{h}, every pixel"
        else:
            size = f"{pw}x{ph}, trained at {w}x{h}: -p {r.factor:.3g}; -p 1 trains on every pixel"
        decay = f", decaying over {c.lr_decay_steps} steps" if c.lr_decay_steps else ""
        where = f"; checkpoints to {quoted(r.checkpoint_path)}" if r.checkpoint_path else ""
        return (
            f"{what} {r.image_name} ({size}) with {c.n_dividers} {c.kind.name} and {c.n_hidden} colour units, "
            f"batch {c.batch_size}, {c.optimizer} lr {c.learning_rate:g} (dividers x{c.divider_lr_scale:g}"
            f"{decay}){where}"
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
        from ..nn.strategy import strategy
        from ..nn.trainer import Trainer  # TensorFlow loads here, not for --help

        s = r.stored
        seed = seed if seed is not None else r.shared_seed
        common = {"strategy": strategy(r.options.strategy), "seed": seed, "size": r.photo_size}
        if s is None:
            return Trainer(c, r.train_image, dividers=dividers, **common)
        t = s.training
        return Trainer(c, r.train_image, model=s, optimizer_state=t.optimizer, epoch=t.epoch, **common)

    def _place(self, seed):
        """Place a new model's dividers (numpy only: TensorFlow is not needed yet) and show what they draw."""
        from tqdm import tqdm

        from ..plane.placement import place
        from ..plane.regions import sketch

        r, c = self.run, self.run.config
        what = c.kind.name
        started = time.perf_counter()
        with tqdm(
            total=c.n_dividers, desc=f"placing {what} ({c.placement})", unit=what, delay=1.0, leave=False, disable=None
        ) as bar:
            dividers = place(r.train_image, c, seed, bar.update)
        if r.is_chief and r.checkpoint_path:
            picture = sketch(r.train_image, dividers)
            path = paths.sketch_path(r.output_dir, r.name)
            write_image(picture, path)
            self.sketch_path = path
            self.log(
                f"placed {c.n_dividers} {what} in {time.perf_counter() - started:.1f} s; each region they make "
                f"painted its mean colour: PSNR {picture_psnr(picture, r.train_image):.2f} dB, {quoted(path)}"
            )
        return dividers

    def model(self):
        """The model as training has it now, with its training state (what a checkpoint holds)."""
        r, t = self.run, self.trainer
        state = TrainingState(
            config=r.config,
            image=r.image,
            image_name=r.image_name,
            cycle=self.cycle,
            epoch=t.epoch,
            optimizer=t.optimizer_weights(),
            history=self.history,
        )
        return t.to_model().replace(training=state)

    def on_cycle(self, result):
        self.history.add(result)
        self.cycle = result.cycle
        self.log(
            f"cycle {result.cycle:5d}  loss {result.loss:.5f}  PSNR {result.psnr:6.2f} dB  "
            f"{result.seconds:6.2f} s  {result.pixels_per_second / 1e6:6.2f} Mpx/s"
        )
        if self.best is None or result.psnr > self.best[0].psnr:
            self.best = (result, self.trainer.snapshot())
        if self.hooks:
            model = self.model()
            for hook in self.hooks:
                hook(result, model)
        return self.on_cycle_callback(result) if self.on_cycle_callback else None

    def keep_best(self):
        """End the run on its best cycle: restore and save it if a later one drew worse.

        The dividers and colours wander from cycle to cycle (a step that moves
        a divider repaints a band of pixels), so the last cycle is not always
        the best; the PSNR each cycle reports is over the whole training
        image, the measure of the picture itself.
        """
        last = self.history.cycles[-1] if self.cycle > self.run.cycle else None
        if self.best is None or last is None or self.best[0].psnr <= last.psnr:
            return
        best, snapshot = self.best
        self.trainer.restore(snapshot)
        if self.run.is_chief and self.checkpoints:
            self.checkpoints(best, self.model())
        what = "the model it started from" if best.epochs == 0 else "the best this run"
        self.log(f"kept cycle {best.cycle}, {what}: PSNR {best.psnr:.2f} dB (the last had {last.psnr:.2f})")

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
        if self.checkpoints and self.checkpoints.saved_cycle is not None:
            return f"{quoted(self.run.checkpoint_path)} holds cycle {self.checkpoints.saved_cycle}"
        if self.run.stored is not None:
            return f"{quoted(self.run.options.model_file)} is as it was"
        return "nothing was saved"

    def train(self, stop_event):
        """Train until a stop condition; return the reason."""
        from .cycles import train_cycles

        with _progress(self.trainer, self.run.config.epochs_per_cycle) as on_steps:
            reason = train_cycles(self.trainer, self.run.cycle, stop_event, self.on_cycle, on_steps)
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


@dataclasses.dataclass
class Outcome:
    """How a run ended: why, after how long, and the trained run (its model, PSNR, files)."""

    reason: str
    elapsed: float
    trained: TrainedRun


def train(run, log=print_line, app=None, stop=None, on_cycle=None):
    """Train `run` until it stops; return its Outcome, the model saved where the run saves.

    With `app`, a preview window shows each cycle. `stop` (a threading.Event)
    is set by the first stop signal; one shared by several runs stops them
    all. `on_cycle(result)` is called after each cycle; a true return stops.
    """
    mailbox = None
    if app is not None:
        from .window import Mailbox

        mailbox = Mailbox()
    trained = None
    if run.is_chief and run.checkpoint_path:
        ensure_writable(os.path.dirname(os.path.abspath(run.checkpoint_path)), "output directory")
    try:
        with held(run.checkpoint_path) if run.is_chief and run.checkpoint_path else contextlib.nullcontext():
            with signals.aborting():  # before training: stop at once, as Ctrl-C does
                trained = TrainedRun(run, log, mailbox, on_cycle)
            return _train(trained, app, mailbox, log, stop or threading.Event())
    except Diverged as err:
        raise Diverged(f"{err}; {trained.kept()} (try a smaller -l)") from None
    except KeyboardInterrupt:
        # A second Ctrl-C, or one before training started: say what is on disk.
        raise KeyboardInterrupt(f"aborted; {trained.kept() if trained else 'nothing was saved'}") from None


def _train(trained, app, mailbox, log, stop):
    run = trained.run
    started = time.perf_counter()
    with signals.stop_on_interrupt(stop, trained.kept, log):
        if app is None:
            reason = trained.train(stop)
        else:
            from .window import run_with_window

            # Tracing leaves TensorFlow garbage whose finalizers call into the
            # runtime. Collected from the main thread while the worker ran a
            # step (VisPy's glfw backend calls gc.collect() when a window
            # closes), it stalled or deadlocked the step. So: trace, collect,
            # and freeze what is left out of later collections.
            trained.trainer.warm_up()
            gc.collect()
            gc.freeze()
            title = f"scalefree: {run.name}"
            reason = run_with_window(run.train_image, lambda: trained.train(stop), stop, mailbox, title, app)
    return Outcome(reason, time.perf_counter() - started, trained)
