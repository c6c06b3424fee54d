"""One image's pixels as training data: batches of pixel indices from tf.data, looked up in the graph.

The image is kept as its own bytes (3 a pixel). A batch is a vector of pixel
indices; a pixel's coordinates come from its row and column, its colour from
the bytes, inside the compiled step. So memory does not grow with an
epoch's worth of coordinates, and the same batches feed any tf.distribute
strategy.
"""

import math

import numpy as np

from ..plane.coords import pixel_axes, pixel_coords
from ._tensorflow import tf

# Above this many pixels an epoch's order is computed batch by batch (see Pixels.dataset).
STREAM_PIXELS = 1 << 22


def image_to_float(image):
    return np.asarray(image, dtype=np.float32) / 255.0


def _multipliers(pixels, seed, count=61):
    """Multipliers a of the streamed epoch orders: coprime with `pixels`, from the middle of [0, pixels)."""
    rng = np.random.default_rng([seed, pixels])
    found = []
    for a in rng.integers(pixels // 8, pixels - pixels // 8, count).tolist():
        while math.gcd(a, pixels) != 1:
            a += 1
        found.append(a)
    return found


def _fixed(dataset):
    """The dataset with tf.data's autotuning off: its buffers and parallelism are the ones given.

    An autotuned iterator runs a model thread that its destructor joins; an
    iterator collected by the garbage collector on a loaded machine once
    waited for that thread for good (seen in a test run: the main thread in
    ~RootDataset::Iterator, the model thread in Model::OptimizeLoop). Index
    batches need no tuning.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


class Pixels:
    """An image's pixels, found by flat index (row-major), in numpy and in the graph."""

    def __init__(self, image):
        self.height, self.width = image.shape[:2]
        self.rgb = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1, 3)
        self.ys, self.xs = pixel_axes(self.height, self.width)
        # A variable, not a constant, so that another image of this size can take its place
        # without tracing the compiled step again (Pixels.assign).
        self._rgb_t = tf.Variable(self.rgb, trainable=False)
        self._xs_t, self._ys_t = tf.constant(self.xs), tf.constant(self.ys)

    def assign(self, image):
        """Hold another image of the same size instead."""
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(f"an image of {image.shape[:2]} cannot take the place of {(self.height, self.width)}")
        self.rgb = np.ascontiguousarray(image, dtype=np.uint8).reshape(-1, 3)
        self._rgb_t.assign(self.rgb)

    @property
    def count(self):
        return self.height * self.width

    def coords_at(self, index):
        """(x, y) of the pixels at flat indices `index`, as pixel_coords gives them."""
        index = np.asarray(index)
        return np.stack([self.xs[index % self.width], self.ys[index // self.width]], axis=1)

    def colors_at(self, index):
        """RGB in [0, 1] (float32) of the pixels at flat indices `index`."""
        return image_to_float(self.rgb[index])

    @property
    def coords(self):
        """(x, y) of every pixel, row by row (built on demand: 8 bytes a pixel)."""
        return pixel_coords(self.height, self.width)

    @property
    def colors(self):
        """RGB in [0, 1] of every pixel, row by row (built on demand: 12 bytes a pixel)."""
        return image_to_float(self.rgb)

    def lookup(self, index):
        """Coordinates and colours (float32) of the pixels at `index`, in the graph."""
        x = tf.gather(self._xs_t, index % self.width)
        y = tf.gather(self._ys_t, index // self.width)
        return tf.stack([x, y], axis=1), tf.cast(tf.gather(self._rgb_t, index), tf.float32) / 255.0

    def dataset(self, batch, seed, first_epoch):
        """Endless batches of pixel indices from epoch `first_epoch` on; each epoch visits every pixel once.

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
        pixels = self.count
        steps = math.ceil(pixels / batch)

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

            start = first_epoch * steps
            return _fixed(tf.data.Dataset.range(start, 2**62).map(step_batch, num_parallel_calls=4).prefetch(16))

        def epoch_batches(epoch):
            perm = tf.random.experimental.stateless_shuffle(tf.range(pixels, dtype=tf.int32), seed=epoch_seed(epoch))
            perm = tf.concat([perm, perm[: steps * batch - pixels]], axis=0)
            return tf.data.Dataset.from_tensor_slices(tf.reshape(perm, (steps, batch)))

        return _fixed(tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch_batches).prefetch(2))
