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

import numpy as np

from ..config import new_seed
from ..errors import Diverged
from ..formats import paths
from ..formats.atomic import held
from ..formats.images import write_image
from ..history import CycleResult, History
from ..model import TrainingState
from ..plane.pictures import psnr
from ..plane.refine import CLOSE_ENOUGH, Refiner
from . import signals
from .cluster import ClusterError
from .hooks import CheckpointWriter, FrameWriter, PreviewSender
from .run import ensure_writable, plural, quoted

# The longest wait for the refined colours once TensorFlow has loaded (they take 2-3 s here).
REFINE_WAIT = 60.0


def print_line(line):
    from tqdm import tqdm

    # Through tqdm, so that a progress bar on the terminal is cleared first and redrawn after.
    tqdm.write(line, file=sys.stdout)
    sys.stdout.flush()


class TrainedRun:
    """A run being trained: its first model, its Trainer, its history, the best cycle so far, the hooks.

    Built in steps, so that a stop at any point can say what is on disk:
    `first_model()` places a new model's dividers and fits its colour layers
    in numpy (cycle 0, saved before TensorFlow loads), `start_training()`
    loads TensorFlow and builds the Trainer from the model, `train()` trains.
    """

    def __init__(self, run, log=print_line, mailbox=None, on_cycle=None, pool=None):
        # Checked before anything slow, not after a first cycle.
        if run.is_chief:
            run.refuse_overwrite()
        if run.frames_dir and run.is_chief:
            run.check_render_size(run.config.disp_mult, "frame")
            ensure_writable(run.frames_dir, "frames directory")
        self.run = run
        self.log = log
        self.cycle = run.cycle
        self.sketch_path = None
        self.first = None  # (CycleResult, Model) of a new run's cycle 0
        self._table = None  # its region table, while refining its colours may pay
        self.refiner = None  # a plane.refine.Refiner at work while TensorFlow loads
        self.started = None  # when the first model began: training's seconds count from there
        self.start = None  # the model training starts from, when that is not the first
        self.trainer = None
        self.best = None  # (CycleResult, Trainer.snapshot()) of this run's best cycle
        self.history = run.stored.training.history if run.stored else History()
        self.checkpoints = CheckpointWriter(run.checkpoint_path) if run.checkpoint_path else None
        self.frames = FrameWriter(run) if run.frames_dir else None
        hooks = [self.checkpoints, self.frames, mailbox and PreviewSender(run, mailbox)]
        # The chief writes the files; the other workers only train.
        self.hooks = [h for h in hooks if h] if run.is_chief else []
        self.on_cycle_callback = on_cycle
        # Trainers of earlier runs (a list, shared by the images of a batch): one that fits is reused.
        self.pool = pool
        c = run.config
        self.seed = next((s for s in (c.seed, run.shared_seed) if s is not None), None)
        if self.seed is None and run.stored is None:
            self.seed = new_seed()
        log(self.start_message())

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

    def first_model(self):
        """Cycle 0 of a new run: its dividers placed and its colour layers fitted to their regions, in numpy.

        Saved, drawn and reported like any cycle, before TensorFlow loads.
        Returns its CycleResult, or None for a resumed run or a relu model
        (dense units start as Keras starts them).
        """
        from tqdm import tqdm

        from ..config import AUTO, COLOUR_UNIT_CHOICES
        from ..model import ColourLayers, Model
        from ..plane.colouring import choose_colour_units, fit_colour_layers, fresh_colour_layers
        from ..plane.placement import PLACEMENT_PIXELS, place, shrunk
        from ..plane.regions import region_table
        from ..shapes import Mixed

        r, c = self.run, self.run.config
        if r.stored is not None or not c.places_dividers:
            return None
        what = c.kind.name
        started = self.started = time.perf_counter()
        with tqdm(
            total=c.n_dividers, desc=f"placing {what} ({c.placement})", unit=what, delay=1.0, leave=False, disable=None
        ) as bar:
            dividers = place(r.look, c, self.seed, bar.update)
        placed = time.perf_counter()
        # Regions are found on the copy placement looked at: their colours need no more pixels than that.
        table = region_table(shrunk(r.look, PLACEMENT_PIXELS), dividers)
        chosen, name = "", r.name  # the run's files keep the name it started with ('..._autoh')
        if c.n_hidden == AUTO:
            make_rng = lambda: np.random.default_rng([self.seed, 0])  # noqa: E731
            m, layers, chosen = choose_colour_units(table, COLOUR_UNIT_CHOICES, make_rng)
            # From here on the run is one with M colour units (its checkpoints store M, not 'auto').
            self.run = r = dataclasses.replace(r, config=dataclasses.replace(c, n_hidden=m))
            c = r.config
        else:
            layers = fit_colour_layers(table, c.n_hidden, np.random.default_rng([self.seed, 0]))
        model = Model(dividers, ColourLayers(*layers), r.photo_size, c.sharpness)
        result, picture = self._measured(model, started)
        self.first = (result, model)
        if table.best_psnr() - result.psnr > CLOSE_ENOUGH:
            self._table = table  # for start_refining
        # Where training takes over (see Dividers.trains_from_fit).
        if not Mixed.settled(dividers).trains_from_fit:
            fresh = fresh_colour_layers(model.n_dividers, c.n_hidden, np.random.default_rng([self.seed, 1]))
            self.start = model.replace(colour_layers=ColourLayers(*fresh))
        self.history.add(result)
        if r.is_chief and r.checkpoint_path:
            path = paths.sketch_path(r.output_dir, name)
            write_image(picture, path)
            self.sketch_path = path
        if len(c.kind.members()) > 1:  # a mixed model: say what placement chose
            what = " and ".join(f"{len(g)} {g.name}" for g in dividers)
        else:
            what = f"{c.n_dividers} {what}"
        if chosen:
            self.log(chosen)
        line = (
            f"placed {what} in {placed - started:.1f} s and fitted {c.n_hidden} colour units to "
            f"their {len(table.counts)} regions in {time.perf_counter() - placed:.1f} s: cycle 0, PSNR "
            f"{result.psnr:.2f} dB (each region its own mean colour: {table.best_psnr():.2f})"
            + (f"; its picture: {quoted(self.sketch_path)}" if self.sketch_path else "")
        )
        self._after_cycle(result, self.model(), line)
        return result

    def start_training(self, stop=None):
        """Load TensorFlow and build the Trainer from the run's model: the first one, the stored one, or Keras's.

        The seconds this takes are not training's: --max_seconds counts the
        first model and the cycles. In a cluster, a stop while it forms
        leaves the run with no Trainer.
        """
        began = time.perf_counter()
        self._start_training(stop)
        if self.started is not None:
            self.started += time.perf_counter() - began

    def _start_training(self, stop=None):
        r, c = self.run, self.run.config
        if "tensorflow" not in sys.modules:
            # A few seconds on most machines: long enough to say what is going on.
            self.log("loading TensorFlow")
        from ..nn.strategy import strategy
        from ..nn.trainer import Trainer  # TensorFlow loads here, not for --help

        if self.refiner is not None:
            self.take_refined(timeout=0 if stop is not None and stop.is_set() else REFINE_WAIT)

        if r.options.strategy == "multiworker":
            from ..nn._tensorflow import quiet_native
            from .cluster import form

            timeout = r.options.cluster_timeout
            with quiet_native():
                chosen = form(lambda: strategy("multiworker", timeout), timeout, self.log, stop or threading.Event())
            if chosen is None:
                return
        else:
            chosen = strategy(r.options.strategy)
        if r.options.strategy != "default":
            replicas = chosen.num_replicas_in_sync
            self.log(f"training data-parallel on {plural(replicas, 'replica')} ({r.options.strategy})")
        common = {"strategy": chosen, "seed": self.seed, "size": r.photo_size}
        if r.stored is not None:
            t = r.stored.training
            self.trainer = Trainer(
                c, r.train_image, model=r.stored, optimizer_state=t.optimizer, epoch=t.epoch, **common
            )
        elif self.first is not None:
            result, model = self.first
            reusable = [t for t in self.pool or () if t.fits(c, r.train_image, model)]
            if reusable:
                self.trainer = reusable[0]
                self.trainer.reset(c, r.train_image, model, self.seed, r.photo_size)
            else:
                self.trainer = Trainer(c, r.train_image, model=model, **common)
                if self.pool is not None:
                    self.pool.append(self.trainer)
            # The first model is a candidate for the one the run ends with: never worse than it.
            self.best = (result, self.trainer.snapshot())
            if self.start is not None:
                self.trainer.set_model(self.start)
        else:
            self.trainer = Trainer(c, r.train_image, **common)
        if self.trainer.sharded:
            (top, bottom), height = self.trainer.band, self.trainer.height
            self.log(
                f"holding rows {top}-{bottom - 1} of the training picture's {height} "
                f"({(bottom - top) / height:.0%} of its pixels)"
            )
        if r.options.strategy == "multiworker":
            self._check_same_photo()
            self.trainer.take_from_chief(r.is_chief)
        # The model a run starts from is a candidate for the one it ends with: a resumed run never
        # ends on a model worse than it was given. (In a cluster the chief may be the only one to
        # have found the checkpoint, and every worker measures its share: they agree first.)
        if self.trainer.agree(r.stored is not None):
            start = CycleResult(self.cycle, math.nan, self.trainer.psnr(), 0.0, 0.0, 0)
            self.best = (start, self.trainer.snapshot())

    def _check_same_photo(self):
        """Every worker of a cluster learns the chief's photo (a host may hold another file by that name)."""
        import hashlib

        from ..formats.photofile import PhotoFile

        r = self.run
        if isinstance(r.image, PhotoFile):
            digest = r.image.sha256
        else:
            digest = hashlib.sha256(memoryview(np.ascontiguousarray(r.image)).cast("B")).hexdigest()
        mine = int(digest[:12], 16)
        same = self.trainer.same_as_chief(r.is_chief, mine)
        if self.trainer.agree(not same):
            what = "this worker's photo is not the chief's" if not same else "a worker's photo is not the chief's"
            raise ClusterError(
                f"{what} ({r.image_name}, SHA-256 {digest[:12]}...): every worker must learn the same photo"
            )

    def _measured(self, model, started):
        """The CycleResult of a cycle-0 model made since `started`, and its picture at the training size.

        A training picture not held whole is measured a band of rows at a
        time, and the picture returned is at the size of `run.look`.
        """
        r = self.run
        if r.held:
            picture = model.render(size=r.size)
            error = float(np.mean(np.square((picture.astype(np.float64) - r.train_image) / 255.0)))
        else:
            error = _streamed_error(model, r.train_image)
            picture = model.render(size=r.look.shape[:2])
        seconds = time.perf_counter() - started
        pixels = r.size[0] * r.size[1]
        return CycleResult(0, error, psnr(error), seconds, pixels / seconds, 0), picture

    def start_refining(self):
        """Go on fitting the first model's colours on the other core while TensorFlow loads (see plane.refine)."""
        table, self._table = self._table, None
        if table is not None and "tensorflow" not in sys.modules:
            self.refiner = Refiner(table, self.run.config.n_hidden, [self.seed, 0])

    def take_refined(self, timeout=REFINE_WAIT):
        """The refined fit of the first model's colours, once TensorFlow has loaded: saved as cycle 0 if better.

        Waits up to `timeout` seconds for it (0: only if it is done).
        """
        from ..model import ColourLayers

        refiner, self.refiner = self.refiner, None
        began = time.perf_counter()
        layers = refiner.result(timeout=timeout) if refiner else None
        if layers is None:
            return
        first_result, first_model = self.first
        model = first_model.replace(colour_layers=ColourLayers(*layers))
        result, _ = self._measured(model, began - first_result.seconds)
        if result.psnr <= first_result.psnr:
            return
        self.first = (result, model)
        self.history.cycles[-1] = result
        self._after_cycle(
            result,
            self.model(),
            f"refined the first model's colours while TensorFlow loaded: cycle 0, PSNR {result.psnr:.2f} dB",
        )

    def model(self):
        """The model as training has it now, with its training state (what a checkpoint holds)."""
        r, t = self.run, self.trainer
        state = TrainingState(
            config=r.config,
            image=r.image,  # a large photo's file (PhotoFile): the checkpoint records it by path and hash
            image_name=r.image_name,
            cycle=self.cycle,
            epoch=t.epoch if t else 0,
            optimizer=t.optimizer_weights() if t else None,
            history=self.history,
        )
        if t is None:
            return self.first[1].replace(training=state)
        return t.to_model().replace(training=state)

    def on_cycle(self, result):
        self.history.add(result)
        self.cycle = result.cycle
        if self.best is None or result.psnr > self.best[0].psnr:
            self.best = (result, self.trainer.snapshot())
        line = (
            f"cycle {result.cycle:5d}  loss {result.loss:.5f}  PSNR {result.psnr:6.2f} dB  "
            f"{result.seconds:6.2f} s  {result.pixels_per_second / 1e6:6.2f} Mpx/s"
        )
        return self._after_cycle(result, self.model() if self.hooks else None, line)

    def _after_cycle(self, result, model, line):
        """The hooks (the checkpoint first), then the cycle's line: when it shows, the model is saved."""
        for hook in self.hooks:
            hook(result, model)
        self.log(line)
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
        what = "the best this run" if best.epochs else "the model it started from" if best.cycle else "the first model"
        self.log(f"kept cycle {best.cycle}, {what}: PSNR {best.psnr:.2f} dB (the last had {last.psnr:.2f})")

    @property
    def psnr(self):
        """The PSNR of the model the run ends with (the stored one's, or None, if no cycle ran)."""
        if self.best:
            return self.best[0].psnr
        if self.first:
            return self.first[0].psnr
        return self.history.cycles[-1].psnr if self.history.cycles else None

    @property
    def frames_written(self):
        return self.frames.written if self.frames else 0

    def kept(self):
        """What is on disk now, for a message about stopping."""
        if not self.run.is_chief:
            return "the chief keeps the checkpoint"
        if self.checkpoints and self.checkpoints.saved_cycle is not None:
            return f"{quoted(self.run.checkpoint_path)} holds cycle {self.checkpoints.saved_cycle}"
        if self.run.stored is not None:
            return f"{quoted(self.run.options.model_file)} is as it was"
        return "nothing was saved"

    def first_is_enough(self):
        """Why the first model ends the run without training (it meets --target_psnr), or None."""
        target = self.run.config.target_psnr
        if self.first is not None and target and self.first[0].psnr >= target:
            return f"reached --target_psnr {target:g} dB with the first model"
        return None

    def train(self, stop_event):
        """Train until a stop condition; return the reason."""
        from .cycles import train_cycles

        if self.trainer is None:
            self.start_training()

        with _progress(self.trainer, self.run.config.epochs_per_cycle) as on_steps:
            if self.run.options.strategy != "multiworker":
                reason = train_cycles(self.trainer, self.run.cycle, stop_event, self.on_cycle, on_steps, self.started)
            else:
                reason = self._train_in_cluster(stop_event, on_steps)
        self.keep_best()
        return reason

    def _train_in_cluster(self, stop_event, on_steps):
        """train_cycles, with a lost worker said in one line: which, and what the checkpoint holds."""
        from ..nn.strategy import LOST, lost_worker
        from .cluster import addresses, answering, silent
        from .cycles import train_cycles

        try:
            return train_cycles(self.trainer, self.run.cycle, stop_event, self.on_cycle, on_steps, self.started)
        except LOST as err:
            named, where = lost_worker(err), dict(addresses())
            if named in where:
                # A stopped process still answers at its port (the system does): it is there but silent.
                up = answering(where[named])
                gone, how = f"{named} at {where[named]}", "stopped answering" if up else "is gone"
            else:
                gone = ", ".join(f"{name} at {address}" for name, address in silent()) or "a worker"
                how = "stopped answering" if isinstance(err, LOST[1]) else "is gone"
            timeout = self.run.options.cluster_timeout
            raise ClusterError(
                f"the cluster lost {gone} ({how}{f'; --cluster_timeout {timeout:g} s' if timeout else ''})"
            ) from None


def _streamed_error(model, picture):
    """Mean squared error of the model's picture against a Picture read a band of rows at a time."""
    height, width = picture.shape[:2]
    total = 0.0
    for top, band in picture.bands(band_pixels=1 << 20):
        drawn = model.render(size=(height, width), rows=(top, top + len(band)))
        total += float(np.square((drawn.astype(np.float64) - band) / 255.0).sum())
    return total / (3 * height * width)


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


def train(run, log=print_line, app=None, stop=None, on_cycle=None, pool=None):
    """Train `run` until it stops; return its Outcome, the model saved where the run saves.

    With `app`, a preview window shows each cycle. `stop` (a threading.Event)
    is set by the first stop signal; one shared by several runs stops them
    all. `on_cycle(result)` is called after each cycle; a true return stops.
    `pool`, a list shared by several runs, keeps their Trainers for reuse.
    """
    mailbox = None
    if app is not None:
        from .window import Mailbox

        mailbox = Mailbox()
    trained = None
    if run.is_chief and run.checkpoint_path:
        ensure_writable(os.path.dirname(os.path.abspath(run.checkpoint_path)), "output directory")
    stop = stop or threading.Event()
    try:
        with held(run.checkpoint_path) if run.is_chief and run.checkpoint_path else contextlib.nullcontext():
            # Before the first model exists a stop aborts at once; from then on (its save included)
            # it ends the run with it, however soon after its line the signal comes.
            first_made = lambda: trained is not None and trained.first is not None  # noqa: E731
            with signals.stop_on_interrupt(stop, lambda: trained.kept(), log, abort_unless=first_made):
                trained = TrainedRun(run, log, mailbox, on_cycle, pool)
                trained.first_model()
                enough = trained.first_is_enough()
                if enough is not None:
                    return Outcome(enough, trained.first[0].seconds, trained)
                if trained.first is not None and not stop.is_set():
                    trained.start_refining()
                if not stop.is_set():
                    trained.start_training(stop)
            if stop.is_set() and trained.first is not None:
                trained.take_refined(timeout=0)  # kept if it is done
                return Outcome("stopped before training", trained.first[0].seconds, trained)
            return _train(trained, app, mailbox, log, stop)
    except Diverged as err:
        raise Diverged(f"{err}; {trained.kept()} (try a smaller -l)") from None
    except ClusterError as err:
        raise ClusterError(f"{err}; {trained.kept()}") from None
    except KeyboardInterrupt:
        # A second Ctrl-C, or one before anything was saved: say what is on disk.
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
            reason = run_with_window(run.look, lambda: trained.train(stop), stop, mailbox, title, app)
    return Outcome(reason, time.perf_counter() - started, trained)
