"""Colour layers fitted to a region table in numpy: the first model, before TensorFlow has loaded.

The network's colour layers see a region only through its pattern of sides,
so fitting them to a picture is fitting them to its region table: a few
thousand rows (each region's sides, weighted by its pixel count, with its
mean colour as the target) instead of every pixel. Drawing regions in
proportion to their pixels is drawing pixels, so mini-batch Adam on the
table takes the steps training would take with the dividers held, at a
fraction of the cost: a step is a pair of small matrix products, with no
divider to evaluate.
"""

import numpy as np

# Measured on the tuning photos (rose, astronaut, chelsea; 128 lines / 32 and
# 32 circles / 16): 1000 steps of 256 regions reach within 2-4 dB of the
# regions' own mean colours for 128 lines, 0.1-0.5 dB for 32 circles, in
# about 0.25 s; twice as many steps gain 0.5-0.9 dB more for twice the time.
STEPS = 1000
BATCH = 256
RATE = 0.004


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def fit_colour_layers(table, m, rng, steps=STEPS, batch=BATCH, rate=RATE, keep=None):
    """(W1, b1, W2, b2) of m ReLU colour units and the sigmoid outputs, fitted to `table` (a RegionTable).

    Starts as Keras starts a Dense layer (Glorot uniform, zero biases) and
    minimises the squared error over pixels with Adam, `steps` steps of
    `batch` regions drawn in proportion to their pixels. Deterministic for a
    given `rng`. With `keep` (a step count), returns the layers after that
    many steps too: (final layers, layers at step `keep`).
    """
    signs = np.asarray(table.signs, np.float32)
    means = np.asarray(table.means, np.float32)
    n = signs.shape[1]
    limits = np.sqrt(6.0 / (n + m)), np.sqrt(6.0 / (m + 3))
    params = [
        rng.uniform(-limits[0], limits[0], (n, m)).astype(np.float32),
        np.zeros(m, np.float32),
        rng.uniform(-limits[1], limits[1], (m, 3)).astype(np.float32),
        np.zeros(3, np.float32),
    ]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    cdf = np.cumsum(table.counts)
    picks = np.minimum(np.searchsorted(cdf, rng.random((steps, batch)) * cdf[-1], side="right"), len(cdf) - 1)
    kept = tuple(p.copy() for p in params) if keep == 0 else None
    for t in range(1, steps + 1):
        s, target = signs[picks[t - 1]], means[picks[t - 1]]
        w1, b1, w2, b2 = params
        a = s @ w1 + b1
        h = np.maximum(a, 0.0)
        y = _sigmoid(h @ w2 + b2)
        # The loss is the mean over the batch's pixels and channels, as training's is.
        gy = (2.0 / (3 * batch)) * (y - target) * y * (1.0 - y)
        gh = (gy @ w2.T) * (a > 0)
        grads = (s.T @ gh, gh.sum(axis=0), h.T @ gy, gy.sum(axis=0))
        correct1, correct2 = 1 - 0.9**t, 1 - 0.999**t
        for p, g, m1, m2 in zip(params, grads, first, second):
            m1 *= 0.9
            m1 += 0.1 * g
            m2 *= 0.999
            m2 += 0.001 * g * g
            p -= rate * (m1 / correct1) / (np.sqrt(m2 / correct2) + 1e-7)
        if t == keep:
            kept = tuple(p.copy() for p in params)
    if keep is None:
        return tuple(params)
    return tuple(params), kept if kept is not None else tuple(params)
