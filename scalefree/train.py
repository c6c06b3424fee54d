"""Fitting the network to one image: batches from tf.data, steps in a compiled graph.

The model and optimizer are built inside a tf.distribute strategy scope and
each step runs through `strategy.run`, so the same code trains on one CPU, a
GPU, or data-parallel on several devices; with no strategy given it uses the
default one.
"""

import math
import time

import numpy as np

from ._tensorflow import keras, tf
from .config import new_seed
from .coords import pixel_axes, pixel_coords
from .errors import Diverged
from .history import CycleResult
from .images import psnr
from .init import place, residual_dividers
from .model import build_model, build_optimizer
from .render import colours

# At most this many steps run in one call into the graph, so that progress and
# a stop request are seen within about a second even on huge images.
MAX_STEPS_PER_CALL = 1000
# Pixels per prediction call. Every layer holds an (n, N) intermediate, and
# TensorFlow keeps the memory it once used: 2**18 pixels of 128 dividers
# raised peak memory by 670 MB; 2**16 by about a quarter of that, at the same speed.
PREDICT_CHUNK = 1 << 16
# Dead colour units are looked for after each of the first REVIVE_FIRST
# epochs, then every REVIVE_EVERY: a look costs about a tenth of an epoch.
REVIVE_FIRST, REVIVE_EVERY = 3, 10
# Above this many pixels an epoch's order is computed batch by batch (see Trainer._dataset).
STREAM_PIXELS = 1 << 22


def _multipliers(pixels, seed, count=61):
    """Multipliers a of the streamed epoch orders: coprime with `pixels`, from the middle of [0, pixels)."""
    rng = np.random.default_rng([seed, pixels])
    found = []
    for a in rng.integers(pixels // 8, pixels - pixels // 8, count).tolist():
        while math.gcd(a, pixels) != 1:
            a += 1
        found.append(a)
    return found


def image_to_float(image):
    return np.asarray(image, dtype=np.float32) / 255.0


class Trainer:
    """Holds a model, its optimizer and one image's pixels, and trains in epochs.

    A new model's dividers start as config.placement says (init.py), or at
    `dividers` when they were placed already; `on_placed()` is called as each
    divider is placed. `seed` stands in for an unset config.seed.
    """

    def __init__(
        self,
        config,
        image,
        weights=None,
        optimizer_weights=None,
        epoch=0,
        strategy=None,
        on_placed=None,
        dividers=None,
        seed=None,
    ):
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.height, self.width = image.shape[:2]
        # Pixels are kept as the image's own bytes (3 a pixel) and found by index: a pixel's
        # coordinates come from its row and column, its colour from the bytes, batch by batch.
        self._rgb = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1, 3)
        self._ys, self._xs = pixel_axes(self.height, self.width)
        self.epoch = epoch
        self._seed = config.seed if config.seed is not None else seed if seed is not None else new_seed()
        # Seeds weight initialisation; batch order is seeded separately in _dataset.
        keras.utils.set_random_seed(self._seed)
        with self.strategy.scope():
            self.model = build_model(config)
            self.optimizer = build_optimizer(config)
            self.optimizer.build(self.model.trainable_variables)
        if weights is not None:
            self.model.set_weights(weights)
        elif dividers is not None:
            self.model.get_layer("dividers").set_weights(list(dividers))
        elif config.places_dividers:
            self.model.get_layer("dividers").set_weights(list(place(image, config, self._seed, on_placed)))
        if optimizer_weights is not None:
            self._restore_optimizer(optimizer_weights)
        self._rgb_t = tf.constant(self._rgb)
        self._xs_t, self._ys_t = tf.constant(self._xs), tf.constant(self._ys)
        self._iterator = iter(self.strategy.experimental_distribute_dataset(self._dataset()))
        self._train_steps = tf.function(self._train_steps_fn)
        self._predict = tf.function(
            lambda x: self.model(x, training=False),
            input_signature=[tf.TensorSpec([None, 2], tf.float32)],
        )
        self._dividers = tf.function(
            lambda x: self.model.get_layer("dividers")(x),
            input_signature=[tf.TensorSpec([None, 2], tf.float32)],
        )
        # Processes of a cluster decide together when to stop (see agree).
        resolver = getattr(self.strategy, "cluster_resolver", None)
        spec = resolver.cluster_spec() if resolver is not None else None
        self._workers = sum(len(spec.job_tasks(job)) for job in spec.jobs) if spec and spec.jobs else 1
        self._any = tf.function(
            lambda flag: self.strategy.reduce(
                tf.distribute.ReduceOp.SUM, self.strategy.run(lambda: tf.identity(flag)), axis=None
            )
        )

    def agree(self, flag):
        """`flag` or'ed over every process of the cluster: when one stops, all stop at the same epoch.

        Every process must call this at the same points; alone, it is `flag`.
        """
        if self._workers <= 1:
            return bool(flag)
        return bool(self._any(tf.constant(1.0 if flag else 0.0)) > 0)

    @property
    def pixels(self):
        return self.height * self.width

    def coords_at(self, index):
        """(x, y) of the pixels at flat indices `index`, as pixel_coords gives them."""
        index = np.asarray(index)
        return np.stack([self._xs[index % self.width], self._ys[index // self.width]], axis=1)

    def colors_at(self, index):
        """RGB in [0, 1] (float32) of the pixels at flat indices `index`."""
        return image_to_float(self._rgb[index])

    @property
    def coords(self):
        """(x, y) of every pixel, row by row (built on demand: 8 bytes a pixel)."""
        return pixel_coords(self.height, self.width)

    @property
    def colors(self):
        """RGB in [0, 1] of every pixel, row by row (built on demand: 12 bytes a pixel)."""
        return image_to_float(self._rgb)

    @property
    def steps_per_epoch(self):
        return math.ceil(self.pixels / self.batch_size)

    @property
    def batch_size(self):
        """The configured batch, or the whole image when it has fewer pixels."""
        return min(self.config.batch_size, self.pixels)

    def _dataset(self):
        """Endless batches of pixel indices; each epoch visits every pixel once, in an order of its own.

        The order depends only on (seed, epoch), so a seeded run and a
        resumed one see the same batches. The last batch of an epoch is
        topped up from the start of the order so every batch is full.
        Up to STREAM_PIXELS an epoch is a shuffled permutation (4 bytes a
        pixel, and as much again while it is made); above, it is an affine
        permutation, i -> (a i + c) mod n with a coprime with n, computed batch
        by batch, so a gigapixel image needs no epoch-sized array at all. The
        multipliers a are drawn (per seed) from the middle of [0, n): a batch
        is then a lattice spread over the whole image, not a run of
        neighbouring pixels.
        """
        pixels, batch, steps = self.pixels, self.batch_size, self.steps_per_epoch
        seed = self._seed

        def epoch_seed(epoch):
            return tf.stack([tf.cast(seed, tf.int64), epoch])

        if pixels > STREAM_PIXELS:
            multipliers = tf.constant(_multipliers(pixels, seed), tf.int64)
            offsets = tf.range(batch, dtype=tf.int64)

            def step_batch(k):
                epoch, step = k // steps, k % steps
                pick, c = tf.unstack(tf.random.stateless_uniform([2], epoch_seed(epoch), maxval=2**62, dtype=tf.int64))
                a = tf.gather(multipliers, pick % len(multipliers))
                j = (step * batch + offsets) % pixels
                return tf.cast((a * j + c % pixels) % pixels, tf.int32)

            start = self.epoch * steps
            return tf.data.Dataset.range(start, 2**62).map(step_batch, num_parallel_calls=4).prefetch(16)

        def epoch_batches(epoch):
            perm = tf.random.experimental.stateless_shuffle(tf.range(pixels, dtype=tf.int32), seed=epoch_seed(epoch))
            perm = tf.concat([perm, perm[: steps * batch - pixels]], axis=0)
            return tf.data.Dataset.from_tensor_slices(tf.reshape(perm, (steps, batch)))

        return tf.data.Dataset.range(self.epoch, 2**62).flat_map(epoch_batches).prefetch(2)

    def _pixels(self, index):
        """Coordinates and colours (float32) of the pixels at `index`, in the graph."""
        x = tf.gather(self._xs_t, index % self.width)
        y = tf.gather(self._ys_t, index // self.width)
        return tf.stack([x, y], axis=1), tf.cast(tf.gather(self._rgb_t, index), tf.float32) / 255.0

    def _step(self, index):
        x, y = self._pixels(index)
        with tf.GradientTape() as tape:
            pred = self.model(x, training=True)
            per_pixel = tf.reduce_mean(tf.square(pred - y), axis=-1)
            loss = tf.nn.compute_average_loss(per_pixel, global_batch_size=self.batch_size)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def _train_steps_fn(self, iterator, steps):
        total = tf.constant(0.0)
        for _ in tf.range(steps):
            losses = self.strategy.run(self._step, args=(next(iterator),))
            total += self.strategy.reduce(tf.distribute.ReduceOp.SUM, losses, axis=None)
        return total

    def warm_up(self):
        """Trace the compiled functions now: zero steps, an empty prediction."""
        self._train_steps(self._iterator, tf.constant(0))
        self._predict(tf.zeros((0, 2)))

    def train_steps(self, steps):
        """Run `steps` optimizer steps; return their summed batch losses."""
        return float(self._train_steps(self._iterator, tf.constant(steps)))

    def train_epoch(self, on_steps=None):
        """One pass over every pixel; return the mean batch loss."""
        total, done = 0.0, 0
        while done < self.steps_per_epoch:
            steps = min(MAX_STEPS_PER_CALL, self.steps_per_epoch - done)
            total += self.train_steps(steps)
            done += steps
            if on_steps:
                on_steps(steps)
        self.epoch += 1
        # Units die in the first epochs, when steps are largest; later a look now and then is enough.
        if self.epoch <= REVIVE_FIRST or self.epoch % REVIVE_EVERY == 0:
            self.revive_dead_units()
        c = self.config
        period = c.replacement_period
        if period and self.epoch % period == 0 and self.epoch <= c.replace_until:
            self.replace_weakest(max(1, round(c.n_dividers * c.replace_share)))
        return total / self.steps_per_epoch

    def predict(self, coords, chunk=PREDICT_CHUNK):
        """RGB in [0, 1] for an (n, 2) array of coordinates, computed in chunks."""
        coords = np.asarray(coords, dtype=np.float32)
        out = np.empty((len(coords), 3), dtype=np.float32)
        for start in range(0, len(coords), chunk):
            out[start : start + chunk] = self._predict(coords[start : start + chunk]).numpy()
        return out

    def predict_all(self, chunk=PREDICT_CHUNK):
        """RGB in [0, 1] of every pixel, row by row, its coordinates made a chunk at a time."""
        out = np.empty((self.pixels, 3), dtype=np.float32)
        for start in range(0, self.pixels, chunk):
            index = np.arange(start, min(start + chunk, self.pixels))
            out[index] = self._predict(self.coords_at(index)).numpy()
        return out

    def evaluate(self, chunk=PREDICT_CHUNK):
        """Mean squared error of the current model over the whole training image, a chunk at a time."""
        total = 0.0
        for start in range(0, self.pixels, chunk):
            index = np.arange(start, min(start + chunk, self.pixels))
            error = self._predict(self.coords_at(index)).numpy() - self.colors_at(index)
            total += float(np.square(error, dtype=np.float64).sum())
        return total / (3 * self.pixels)

    def revive_dead_units(self, sample=1 << 12):
        """Restart colour units that no pixel of a sample turns on; return their indices.

        A ReLU unit below zero everywhere has no gradient and never comes
        back. With hundreds of dividers one step moves a unit's input by
        hundreds of small weight changes at once, and the first epoch could
        turn every colour unit off: the picture froze at one colour (seen
        with 512 circles). A dead unit gets fresh random weights from the
        dividers, a bias that turns it on for at least half the sample, no weight
        to the output (the picture does not jump) and fresh optimizer moments.
        """
        rng = np.random.default_rng([self._seed, self.epoch, 1])
        # Drawn with repeats: no permutation of every pixel after each epoch.
        pick = rng.integers(0, self.pixels, min(sample, self.pixels))
        signs = self._dividers(tf.constant(self.coords_at(pick))).numpy()
        units, output = self.model.get_layer("colour_units"), self.model.get_layer("rgb")
        (w1, b1), (w2, b2) = units.get_weights(), output.get_weights()
        dead = np.flatnonzero(((signs @ w1 + b1) <= 0).all(axis=0))
        if not len(dead):
            return dead
        limit = np.sqrt(6.0 / (w1.shape[0] + w1.shape[1]))  # Glorot, as Keras starts them
        w1[:, dead] = rng.uniform(-limit, limit, (w1.shape[0], len(dead)))
        # On for at least half the sample (the median pixel included, when many pixels share it).
        b1[dead] = 0.01 - np.median(signs @ w1[:, dead], axis=0)
        w2[dead] = 0.0
        units.set_weights([w1, b1])
        output.set_weights([w2, b2])
        self._restart_moments(
            {"_colour_units_kernel_": (slice(None), dead), "_colour_units_bias_": dead, "_rgb_kernel_": dead}
        )
        return dead

    def replace_weakest(self, count, sample=1 << 12):
        """Move up to `count` dividers that matter least to where the error is largest.

        A divider's worth is how much the loss rises when it is held to the
        side most pixels are on (measured on a sample of pixels, in numpy).
        New places come from residual placement on the current picture, each
        with the drop in error it promises; the weakest divider moves to the
        best new place only if that drop exceeds its worth, and so on down.
        A moved divider's colour weights move into the bias as if it were
        held to its majority side, so the picture is the one its worth was
        measured on until training gives the divider a use. Returns the moved
        indices.
        """
        kind = self.config.type
        rng = np.random.default_rng([self._seed, self.epoch])
        pick = rng.choice(self.pixels, min(sample, self.pixels), replace=False)
        x, y = self.coords_at(pick), self.colors_at(pick)
        signs = np.sign(self._dividers(tf.constant(x)).numpy())
        (w1, b1), (w2, b2) = (self.model.get_layer(n).get_weights() for n in ("colour_units", "rgb"))
        hidden = signs @ w1 + b1

        def loss(h):
            return np.square(colours(h, w2, b2) - y).mean()

        base = loss(hidden)
        majority = np.where(signs.mean(0) >= 0, 1.0, -1.0)
        worth = np.array([loss(hidden + np.outer(majority[j] - signs[:, j], w1[j])) - base for j in range(len(w1))])
        weakest = np.argsort(worth)[:count]
        picture = self.predict_all().reshape(self.height, self.width, 3)
        target = self._rgb.reshape(self.height, self.width, 3)
        gains = []
        centers, second = residual_dividers(
            target, count, kind, rng, gains=gains, picture=(np.clip(picture, 0, 1) * 255).astype(np.uint8)
        )
        worthwhile = np.asarray(gains) > worth[weakest]
        weakest, centers, second = weakest[worthwhile], centers[worthwhile], second[worthwhile]
        if not len(weakest):
            return weakest
        layer = self.model.get_layer("dividers")
        c, s = layer.get_weights()
        c[weakest], s[weakest] = centers, second
        layer.set_weights([c, s])
        # Held to its majority side, a divider is a constant: folded into the bias.
        b1 = b1 + majority[weakest] @ w1[weakest]
        w1[weakest] = 0.0
        self.model.get_layer("colour_units").set_weights([w1, b1])
        # The optimizer's moments for those rows belong to the old place: an
        # old, small second moment would turn the new place's larger
        # gradients into huge steps. They start afresh.
        self._restart_moments({"_dividers_": weakest, "_colour_units_kernel_": weakest})
        return weakest

    def _restart_moments(self, where):
        """Zero the optimizer's state at where[part] in each slot whose variable's name holds `part`."""
        for slot in self.optimizer.variables:
            name = slot.path.rsplit("/", 1)[-1]
            index = next((i for part, i in where.items() if part in name), None)
            if index is not None:
                values = slot.numpy()
                values[index] = 0.0
                slot.assign(values)

    def weights_finite(self):
        return all(np.isfinite(w).all() for w in self.model.get_weights())

    def optimizer_weights(self):
        return [np.asarray(v.numpy()) for v in self.optimizer.variables]

    def snapshot(self):
        """The model's and the optimizer's state, as copies: `restore` brings it back."""
        return self.model.get_weights(), self.optimizer_weights()

    def restore(self, snapshot):
        weights, optimizer_weights = snapshot
        self.model.set_weights(weights)
        self._restore_optimizer(optimizer_weights)

    def _restore_optimizer(self, values):
        variables = self.optimizer.variables
        if len(values) != len(variables) or any(tuple(v.shape) != np.shape(a) for v, a in zip(variables, values)):
            return  # another optimizer: start its state afresh
        for v, a in zip(variables, values):
            # The rate is the config's (the user may have typed a new one); the
            # step count and moments carry on.
            if v.path.rsplit("/", 1)[-1] != "learning_rate":
                v.assign(a)


def run_cycles(trainer, first_cycle, stop_event, on_cycle, on_steps=None):
    """Train cycle after cycle until a stop condition; return why it stopped.

    After every cycle `on_cycle(result)` is called (it logs, saves, draws).
    `stop_event` (a threading.Event) is checked between epochs: when it is
    set, the epoch under way finishes, its partial cycle is reported, and the
    loop ends.
    """
    config = trainer.config
    started = time.perf_counter()
    cycle = first_cycle
    while True:
        cycle += 1
        cycle_start = time.perf_counter()
        losses = []
        for _ in range(config.epochs_per_cycle):
            losses.append(trainer.train_epoch(on_steps))
            if trainer.agree(stop_event.is_set()):
                stop_event.set()
                break
        seconds = time.perf_counter() - cycle_start
        if not (math.isfinite(float(np.mean(losses))) and trainer.weights_finite()):
            raise Diverged(f"training diverged in cycle {cycle}: the loss or the weights are no longer finite numbers")
        result = CycleResult(
            cycle=cycle,
            loss=float(np.mean(losses)),
            psnr=psnr(trainer.evaluate()),
            seconds=seconds,
            pixels_per_second=trainer.pixels * len(losses) / seconds,
            epochs=len(losses),
        )
        on_cycle(result)
        reason = _stop_reason(config, stop_event, cycle - first_cycle, time.perf_counter() - started, result)
        # In a cluster, one process's reason stops them all after the same cycle.
        if trainer.agree(reason is not None):
            return reason or "stopped with the other workers"


def _stop_reason(config, stop_event, cycles, seconds, result):
    """Why to stop after this cycle, or None."""
    if stop_event.is_set():
        return "stopped"
    if config.cycles and cycles >= config.cycles:
        return f"finished {config.cycles} cycle{'' if config.cycles == 1 else 's'}"
    if config.max_seconds and seconds >= config.max_seconds:
        return f"reached --max_seconds {config.max_seconds:g}"
    if config.target_psnr and result.psnr >= config.target_psnr:
        return f"reached --target_psnr {config.target_psnr:g} dB"
    return None
