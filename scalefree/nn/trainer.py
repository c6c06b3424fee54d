"""Fitting a network to one image: batches from tf.data, steps in a compiled graph.

The network and optimizer are built inside a tf.distribute strategy scope and
each step runs through `strategy.run`, so the same code trains on one CPU, a
GPU, or data-parallel on several devices; with no strategy given it uses the
default one. The Trainer starts from a Model and gives one back (`to_model`).
"""

import threading

import numpy as np

from ..config import new_seed
from ..plane.coords import pixel_coords
from ..plane.pictures import psnr
from ..plane.placement import PLACEMENT_PIXELS, place, shrunk
from . import surgery
from ._tensorflow import keras, tf
from .network import Network, build_optimizer
from .pipeline import Pixels

# At most this many steps run in one call into the graph, so that progress and
# a stop request are seen within about a second even on huge images.
MAX_STEPS_PER_CALL = 1000
# Pixels per prediction call. Every layer holds an (n, N) intermediate, and
# TensorFlow keeps the memory it once used: 2**18 pixels of 128 dividers
# raised peak memory by 670 MB; 2**16 by about a quarter of that, at the same speed.
PREDICT_CHUNK = 1 << 16
# Options that do not change the network, its step or its batches: a trainer may go on to another image with others.
_PER_RUN = ("seed", "cycles", "max_seconds", "target_psnr", "disp_mult", "border", "init", "downscale", "pixel_budget")
# Dead colour units are looked for after each of the first REVIVE_FIRST
# epochs, then every REVIVE_EVERY: a look costs about a tenth of an epoch.
REVIVE_FIRST, REVIVE_EVERY = 3, 10


def _drop(holder):
    holder.clear()


def _place_in_cluster(strategy):
    """(workers, this worker's number from 0): (1, 0) outside a cluster. A chief counts first."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec() if resolver is not None else None
    if not spec or not spec.jobs:
        return 1, 0
    order = [(job, i) for job in sorted(spec.jobs, key=lambda j: j != "chief") for i in range(len(spec.job_tasks(job)))]
    mine = (resolver.task_type, resolver.task_id)
    return len(order), order.index(mine) if mine in order else 0


def _band(height, workers, worker):
    """Worker `worker`'s rows of `height`: as even a share as whole rows allow."""
    return height * worker // workers, height * (worker + 1) // workers


def _look_at(image):
    """The image shrunk to about PLACEMENT_PIXELS: what every worker looks at alike."""
    if isinstance(image, np.ndarray):
        return shrunk(image, PLACEMENT_PIXELS)
    return image.photo.shrunk(PLACEMENT_PIXELS)


class Trainer:
    """A network, its optimizer and one image's pixels; trains in epochs.

    It starts from `model` (a scalefree Model, its weights whole), or, for a
    model not made yet, from Keras's initial weights with `dividers` (groups
    of units) in its first layer, or dividers placed now as config.placement
    says (`on_placed()` is called as each is placed). `seed` stands in for an
    unset config.seed. `size` is the frame of the models it gives back
    (the photo's); by default the image's.

    In a cluster each worker holds only its band of the image's rows
    (`image` may be a picture read band by band, formats.photofile.Picture)
    and the workers agree on every figure: the loss, the PSNR, where
    dividers move. What every worker must see alike, the moving of weak
    dividers, looks at `look`: the image shrunk, the same on every worker
    (by default made here from `image`).
    """

    def __init__(
        self,
        config,
        image,
        model=None,
        dividers=None,
        optimizer_state=None,
        epoch=0,
        strategy=None,
        seed=None,
        on_placed=None,
        size=None,
        look=None,
    ):
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        # Processes of a cluster decide together when to stop (see agree), and each holds a band of rows.
        self._workers, self._worker = _place_in_cluster(self.strategy)
        height = image.shape[0]
        self.sharded = self._workers > 1 and height >= self._workers
        band = _band(height, self._workers, self._worker) if self.sharded else None
        self.data = Pixels(image, band)
        self.height, self.width = self.data.height, self.data.width
        self.look = None
        if self.sharded:
            self.look = look if look is not None else _look_at(image)
        self.size = tuple(size or (self.height, self.width))
        self.epoch = epoch
        self._seed = config.seed if config.seed is not None else seed if seed is not None else new_seed()
        # Seeds Keras's initial weights; batch order is seeded separately (Pixels.dataset).
        keras.utils.set_random_seed(self._seed)
        if model is None and dividers is None and config.places_dividers:
            dividers = place(image if isinstance(image, np.ndarray) else _look_at(image), config, self._seed, on_placed)
        with self.strategy.scope():
            # Without a model, the first layer has the placed groups' kinds and sizes (a mixed model's
            # lines and circles), else the config's one kind.
            self.network = Network.of(config, model, groups=dividers)
            self.optimizer = build_optimizer(config, self.network)
        if model is None and dividers is not None:
            self.network.set_dividers(dividers)
        if optimizer_state is not None:
            self._restore_optimizer(optimizer_state)
        self._iterator = self._batches()
        self._train_steps = tf.function(self._train_steps_fn)
        self._predict = tf.function(
            lambda x: self.network.keras(x, training=False),
            input_signature=[tf.TensorSpec([None, 2], tf.float32)],
        )
        self._sum = tf.function(
            lambda x: self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(tf.identity, (x,)), axis=None)
        )
        self._sse = tf.function(self._sse_fn, input_signature=[tf.TensorSpec([None], tf.int32)])

    @property
    def seed(self):
        return self._seed

    @property
    def band(self):
        """(top, bottom): the rows of the training image this process holds."""
        return self.data.top, self.data.bottom

    @property
    def _local_replicas(self):
        """Replicas on this worker (its GPUs; one on a CPU)."""
        return max(1, self.strategy.num_replicas_in_sync // self._workers)

    @property
    def _replica_batch(self):
        return -(-min(self.config.batch_size, self.pixels) // (self._workers * self._local_replicas))

    def _batches(self):
        if not self.sharded:
            dataset = self.data.dataset(self.batch_size, self._seed, self.epoch)
            return iter(self.strategy.experimental_distribute_dataset(dataset))

        # Each worker draws its share of every batch from its own band; all take the same number of steps.
        # A worker's dataset gives its replicas one batch each per step.
        def batches(context):
            local = self._local_replicas
            return self.data.dataset(self._replica_batch, self._seed, self.epoch, self.steps_per_epoch * local)

        return iter(self.strategy.distribute_datasets_from_function(batches))

    def fits(self, config, image, model):
        """Whether `reset` can take this image and model: the same network, batch and training size."""
        same = {k: v for k, v in config.to_dict().items() if k not in _PER_RUN}
        mine = {k: v for k, v in self.config.to_dict().items() if k not in _PER_RUN}
        kinds = [type(g) for g in model.dividers], [len(g) for g in model.dividers]
        return (
            same == mine
            and image.shape[:2] == (self.height, self.width)
            and kinds
            == (
                self.network.kinds,
                self.network.sizes,
            )
        )

    def reset(self, config, image, model, seed, size=None):
        """Train another image of the same size from `model`, afresh, in the functions already traced.

        A folder of photos of one size then traces its step once (the first
        image's tracing took 0.58 s of its 2 s). `config` may differ from the
        one built with only in what `fits` ignores (the seed, the stop, the render).
        """
        self.config = config
        self.data.assign(image)
        self.size = tuple(size or (self.height, self.width))
        self.epoch = 0
        self._seed = config.seed if config.seed is not None else seed
        self.network.set(model)
        for variable in self.optimizer.variables:
            if variable.path.rsplit("/", 1)[-1] != "learning_rate":
                variable.assign(np.zeros(variable.shape, variable.dtype))
        # Deleting an iterator that has fed the compiled step can take seconds (1-3 s seen here,
        # one image in five): the old one is let go in a thread of its own while the new one trains.
        # The list is its only holder, so the last reference never drops on this thread.
        holder = [self._iterator]
        self._iterator = self._batches()
        threading.Thread(target=_drop, args=(holder,), name="scalefree-old-batches", daemon=True).start()
        del holder

    def agree(self, flag):
        """`flag` or'ed over every process of the cluster: when one stops, all stop at the same epoch.

        Every process must call this at the same points; alone, it is `flag`.
        """
        if self._workers <= 1:
            return bool(flag)
        return bool(self._sum(tf.constant(1.0 if flag else 0.0)) > 0)

    def same_as_chief(self, chief, token):
        """Whether the chief's `token` (an integer below 2**48) is this process's too; True outside a cluster.

        Every process must call this at the same point.
        """
        if self._workers <= 1:
            return True
        theirs = int(self._sum(tf.constant(float(token) if chief else 0.0, tf.float64)))
        return theirs == token

    def take_from_chief(self, chief):
        """In a cluster, every process takes the chief's weights, optimizer state and epoch.

        A run resumed after a lost worker finds its checkpoint on the chief,
        and perhaps only there; Keras gives every process the chief's values
        only when variables are made, not when they are assigned. Every
        process must call this at the same point.
        """
        if self._workers <= 1:
            return
        variables = [*self.network.keras.weights, *self.optimizer.variables]
        parts = [tf.reshape(tf.cast(v, tf.float64), [-1]) for v in variables]
        flat = tf.concat([*parts, tf.constant([self.epoch], tf.float64)], axis=0)
        # One sum over the cluster of the chief's values and zeros from the others.
        summed = self._sum(flat * (1.0 if chief else 0.0))
        values = tf.split(summed, [int(p.shape[0]) for p in parts] + [1])
        for variable, value in zip(variables, values):
            variable.assign(tf.cast(tf.reshape(value, variable.shape), variable.dtype))
        epoch = int(values[-1][0])
        if epoch != self.epoch:
            self.epoch = epoch
            self._iterator = self._batches()

    # The model.

    def to_model(self):
        """The network's weights now, as a Model (no training state)."""
        return self.network.model(self.size, self.config.sharpness)

    def set_model(self, model):
        """Give the network a model's weights (the same groups and sizes); optimizer state is kept."""
        self.network.set(model)

    # The pixels.

    @property
    def pixels(self):
        """Pixels of the whole training image (all workers' together)."""
        return self.data.count

    def coords_at(self, index):
        """(x, y) of pixels of the whole training image, by flat index."""
        return self.data.coords_at(index)

    @property
    def coords(self):
        """(x, y) of every pixel held here, row by row (8 bytes a pixel)."""
        top, bottom = self.band
        return pixel_coords(self.height, self.width)[top * self.width : bottom * self.width]

    @property
    def colors(self):
        """RGB in [0, 1] of every pixel held here, row by row (12 bytes a pixel)."""
        return self.data.picture().reshape(-1, 3).astype(np.float32) / 255.0

    def sample(self, rng, count):
        """`count` distinct pixels as (coords, colours), the same on every worker of a cluster."""
        if not self.sharded:
            pick = rng.choice(self.pixels, min(count, self.pixels), replace=False)
            return self.coords_at(pick), self.data.colors_at(pick)
        h, w = self.look.shape[:2]
        pick = rng.choice(h * w, min(count, h * w), replace=False)
        return pixel_coords(h, w)[pick], self.look.reshape(-1, 3)[pick].astype(np.float32) / 255.0

    def target(self):
        """The training image, or in a cluster its shrunk copy `look`: what residual placement looks at."""
        return self.look if self.sharded else self.data.picture()

    @property
    def steps_per_epoch(self):
        if not self.sharded:
            return -(-self.pixels // self.batch_size)
        widest = -(-self.height // self._workers) * self.width
        return -(-widest // (self._replica_batch * self._local_replicas))

    @property
    def batch_size(self):
        """The configured batch (all workers' shares together), or the whole image when it has fewer pixels."""
        if self.sharded:
            return self._replica_batch * self._workers * self._local_replicas
        return min(self.config.batch_size, self.pixels)

    # Training.

    def _step(self, index):
        x, y = self.data.lookup(index)
        with tf.GradientTape() as tape:
            pred = self.network.keras(x, training=True)
            per_pixel = tf.reduce_mean(tf.square(pred - y), axis=-1)
            loss = tf.nn.compute_average_loss(per_pixel, global_batch_size=self.batch_size)
        variables = self.network.keras.trainable_variables
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
        """One pass over every pixel, then the epoch's surgery; return the mean batch loss."""
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
            surgery.revive_dead_units(self)
        c = self.config
        period = c.replacement_period
        if period and self.epoch % period == 0 and self.epoch <= c.replace_until:
            surgery.move_weakest(self, max(1, round(c.n_dividers * c.replace_share)))
        return total / self.steps_per_epoch

    def predict(self, coords, chunk=PREDICT_CHUNK):
        """RGB in [0, 1] from the network for an (n, 2) array of coordinates, computed in chunks."""
        coords = np.asarray(coords, dtype=np.float32)
        out = np.empty((len(coords), 3), dtype=np.float32)
        for start in range(0, len(coords), chunk):
            out[start : start + chunk] = self._predict(coords[start : start + chunk]).numpy()
        return out

    def _sse_fn(self, index):
        x, y = self.data.lookup(index)
        return tf.reduce_sum(tf.square(tf.cast(self.network.drawn(x) - y, tf.float64)))

    def evaluate(self, chunk=PREDICT_CHUNK):
        """Mean squared error over the whole training image of the picture the model draws, a chunk at a time.

        The picture is the partition's (Network.drawn), what a render shows
        and what the first model is measured by; training's loss is the
        network's function, which a circle of a large radius makes soft.

        In a cluster each worker measures its band and the sums are added:
        every worker must call this at the same point.
        """
        total = 0.0
        for start in range(0, self.data.held, chunk):
            total += float(self._sse(tf.range(start, min(start + chunk, self.data.held), dtype=tf.int32)))
        if self.sharded:
            total = float(self._sum(tf.constant(total, tf.float64)))
        return total / (3 * self.pixels)

    def psnr(self):
        return psnr(self.evaluate())

    # Optimizer state.

    def restart_moments(self, rows):
        """Zero the optimizer's state at `rows`: (variable, index) pairs, index as numpy indexes an array."""
        for variable, index in rows:
            for slot in self.optimizer.slots_of(variable):
                values = slot.numpy()
                values[index] = 0.0
                slot.assign(values)

    def weights_finite(self):
        return self.network.weights_finite()

    def optimizer_weights(self):
        return [np.asarray(v.numpy()) for v in self.optimizer.variables]

    def snapshot(self):
        """The network's and the optimizer's state, as copies: `restore` brings it back."""
        return self.network.keras.get_weights(), self.optimizer_weights()

    def restore(self, snapshot):
        weights, optimizer_weights = snapshot
        self.network.keras.set_weights(weights)
        self._restore_optimizer(optimizer_weights)

    def _restore_optimizer(self, values):
        variables = self.optimizer.variables
        # Checkpoints of 0.5.0 stored the step count as a 1-element array: sizes are compared, not shapes.
        if len(values) != len(variables) or any(np.size(a) != np.prod(v.shape) for v, a in zip(variables, values)):
            return  # another optimizer: start its state afresh
        for v, a in zip(variables, values):
            # The rate is the config's (the user may have typed a new one); the
            # step count and moments carry on.
            if v.path.rsplit("/", 1)[-1] != "learning_rate":
                v.assign(np.reshape(a, v.shape))
