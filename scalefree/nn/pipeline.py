"""One image's pixels as training data: batches of pixel indices from tf.data, looked up in the graph.

The image is kept as its own bytes (3 a pixel). A batch is a vector of pixel
indices; a pixel's coordinates come from its row and column, its colour from
the bytes, inside the compiled step. So memory does not grow with an
epoch's worth of coordinates, and the same batches feed any tf.distribute
strategy.
"""

import math

import numpy as np

from ..plane.coords import pixel_axes
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
    """An image's pixels, or one band of its rows, found by flat index (row-major), in the graph.

    `image` is an (h, w, 3) uint8 array or a picture read band by band
    (formats.photofile.Picture); `band` = (top, bottom) keeps only those
    rows, the share of one worker of a cluster. Indices into the held
    pixels count from the band's first pixel; coordinates are those of the
    whole image.
    """

    def __init__(self, image, band=None):
        self.height, self.width = image.shape[:2]
        self.top, self.bottom = band or (0, self.height)
        self.ys, self.xs = pixel_axes(self.height, self.width)
        # A variable, not a constant, so that another image of this size can take its place
        # without tracing the compiled step again (Pixels.assign). The only copy of the pixels kept.
        self._rgb_t = tf.Variable(tf.zeros((self.held, 3), tf.uint8), trainable=False)
        self._xs_t, self._ys_t = tf.constant(self.xs), tf.constant(self.ys)
        self._offset = self.top * self.width
        self._fill(image)

    def _fill(self, image):
        if isinstance(image, np.ndarray):
            rows = np.ascontiguousarray(image[self.top : self.bottom], dtype=np.uint8)
            self._rgb_t.assign(rows.reshape(-1, 3))
            return
        # Band by band, so that no more than the held pixels and one band are in memory at once.
        # A scatter writes in place; a sliced assign copies the whole variable first (measured: twice the memory).
        for row, band in image.bands(self.top, self.bottom):
            start = (row - self.top) * self.width
            rows = band.reshape(-1, 3)
            self._rgb_t.scatter_update(tf.IndexedSlices(rows, tf.range(start, start + len(rows))))

    def assign(self, image):
        """Hold another image of the same size instead."""
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(f"an image of {image.shape[:2]} cannot take the place of {(self.height, self.width)}")
        self._fill(image)

    @property
    def count(self):
        """Pixels of the whole image."""
        return self.height * self.width

    @property
    def held(self):
        """Pixels held here: the band's."""
        return (self.bottom - self.top) * self.width

    def coords_at(self, index):
        """(x, y) of the pixels at flat indices `index` of the whole image, as pixel_coords gives them."""
        index = np.asarray(index)
        return np.stack([self.xs[index % self.width], self.ys[index // self.width]], axis=1)

    def colors_at(self, index):
        """RGB in [0, 1] (float32) of the pixels at flat indices `index` of the whole image, inside the band."""
        local = np.asarray(index) - self._offset
        if local.size and (local.min() < 0 or local.max() >= self.held):
            raise IndexError("pixels outside the band held here")
        return image_to_float(tf.gather(self._rgb_t, local).numpy())

    def picture(self):
        """The held rows as an (rows, width, 3) uint8 array (a copy)."""
        return self._rgb_t.numpy().reshape(self.bottom - self.top, self.width, 3)

    def lookup(self, index):
        """Coordinates and colours (float32) of the held pixels at `index` (from the band's start), in the graph."""
        whole = index + self._offset
        x = tf.gather(self._xs_t, whole % self.width)
        y = tf.gather(self._ys_t, whole // self.width)
        return tf.stack([x, y], axis=1), tf.cast(tf.gather(self._rgb_t, index), tf.float32) / 255.0

    def dataset(self, batch, seed, first_epoch, steps=None):
        """Endless batches of held pixels' indices from epoch `first_epoch` on; each epoch visits every one once.

        The order depends only on (seed, epoch), so a seeded run and a
        resumed one see the same batches. An epoch is `steps` batches (by
        default just enough for every held pixel; the workers of a cluster
        agree on one count): the last is topped up from the start of the
        order so every batch is full.
        Up to STREAM_PIXELS an epoch is a shuffled permutation (4 bytes a
        pixel, and as much again while it is made); above, it is an affine
        permutation, i -> (a i + c) mod n with a coprime with n, computed batch
        by batch, so a gigapixel image needs no epoch-sized array at all. The
        multipliers a are drawn (per seed) from the middle of [0, n): a batch
        is then a lattice spread over the whole image, not a run of
        neighbouring pixels.
        """
        pixels = self.held
        steps = steps or math.ceil(pixels / batch)

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
            perm = tf.tile(perm, [math.ceil(steps * batch / pixels)])[: steps * batch]
            return tf.data.Dataset.from_tensor_slices(tf.reshape(perm, (steps, batch)))

        return _fixed(tf.data.Dataset.range(first_epoch, 2**62).flat_map(epoch_batches).prefetch(2))
