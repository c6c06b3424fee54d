"""Colour layers fitted to a region table in numpy: the first model, before TensorFlow has loaded.

The network's colour layers see a region only through its pattern of sides,
so fitting them to a picture is fitting them to its region table: a few
thousand rows (each region's sides, weighted by its pixel count, with its
mean colour as the target) instead of every pixel. Drawing regions in
proportion to their pixels is drawing pixels, so mini-batch Adam on the
table takes the steps training would take with the dividers held, at a
fraction of the cost: a step is a pair of small matrix products, with no
divider to evaluate.

Two things make the fit converge faster than the steps alone. It starts
from the best picture that is a sum of one colour shift per divider side
(a weighted least-squares fit in the outputs' logit space), carried by
three colour units that are on everywhere; the other units start as Keras
starts them and learn what that sum cannot draw. And every REFIT_EVERY
steps the output layer takes a Gauss-Newton step on the whole table.
Measured on the tuning photos (rose, astronaut, chelsea, coffee), 1000
steps: 128 lines +0.4 to +0.7 dB over plain Adam from Keras's start, 32
circles 0 to +0.2, 128 circles -0.2 to +0.8, in the same 0.2-0.3 s.
"""

import numpy as np

from .pictures import psnr

STEPS = 1000
BATCH = 256
RATE = 0.004
REFIT_EVERY = 200
# The three colour units that carry the per-side sum stay on for every region by this margin.
_ON_MARGIN = 0.5


def _sigmoid(z):
    # Clipped: exp overflows (and numpy warns on stderr) for inputs the sigmoid maps to 0 or 1 anyway.
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))


def output(hidden, w2, b2):
    """RGB in [0, 1] from the colour units' inputs (P, M): ReLU, then the sigmoid outputs (W2, b2).

    The forward pass after the first colour layer, for the Model (model.ColourLayers) and for what
    works on region tables here below it (placement's ranking of candidates).
    """
    return _sigmoid(np.maximum(hidden, 0.0) @ w2 + b2)


def _logit(colours):
    c = np.clip(colours, 0.02, 0.98)
    return np.log(c / (1 - c))


def fresh_colour_layers(n, m, rng):
    """Colour layers for n dividers as Keras starts them: Glorot uniform weights, zero biases."""
    limits = np.sqrt(6.0 / (n + m)), np.sqrt(6.0 / (m + 3))
    w1 = rng.uniform(-limits[0], limits[0], (n, m))
    w2 = rng.uniform(-limits[1], limits[1], (m, 3))
    return [a.astype(np.float32) for a in (w1, np.zeros(m), w2, np.zeros(3))]


def _start(table, m, rng):
    """Keras's start, then the per-side sum in the first three units."""
    n = table.signs.shape[1]
    w1, b1, w2, b2 = (a.astype(np.float64) for a in fresh_colour_layers(n, m, rng))
    mean = (table.counts[:, None] * table.means).sum(axis=0) / table.counts.sum()
    b2 = _logit(mean)
    if m >= 3:
        x = np.concatenate([table.signs, np.ones((len(table.signs), 1))], axis=1)
        weighted = x * table.counts[:, None]
        gram = x.T @ weighted + 1e-3 * table.counts.sum() * np.eye(n + 1)
        coef = np.linalg.solve(gram, weighted.T @ _logit(table.means))
        shift = _ON_MARGIN - (x @ coef).min(axis=0)
        w1[:, :3], b1[:3] = coef[:-1], coef[-1] + shift
        w2[:3] = np.eye(3)
        w2[3:] *= 0.1  # the other units start quiet: the sum is the picture until they learn
        b2 = -shift
    return [a.astype(np.float32) for a in (w1, b1, w2, b2)]


def _refit_output(params, table):
    """One Gauss-Newton step on the output layer (W2, b2) over the whole table, weighted by pixels."""
    w1, b1, w2, b2 = params
    hidden = np.maximum(table.signs @ w1 + b1, 0.0)
    x = np.concatenate([hidden, np.ones((len(hidden), 1), np.float32)], axis=1)
    y = _sigmoid(hidden @ w2 + b2)
    slope = y * (1 - y)
    for c in range(3):
        weight = table.counts * slope[:, c] ** 2
        # Ridge relative to the weights, and never zero: a channel black or white everywhere
        # saturates its sigmoid, and its weights all but vanish.
        ridge = 1e-6 * weight.sum() + 1e-12 * table.counts.sum()
        gram = x.T @ (x * weight[:, None]) + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(gram, x.T @ (table.counts * slope[:, c] * (table.means[:, c] - y[:, c])))
        w2[:, c] += step[:-1].astype(np.float32)
        b2[c] += np.float32(step[-1])


def fit_colour_layers(table, m, rng, steps=STEPS, batch=BATCH, rate=RATE, start=None, hold_w1=False):
    """(W1, b1, W2, b2) of m ReLU colour units and the sigmoid outputs, fitted to `table` (a RegionTable).

    Minimises the squared error over pixels with Adam, `steps` steps of
    `batch` regions drawn in proportion to their pixels (see the module's
    text for the start and the refits). Deterministic for a given `rng`.
    `start` fine-tunes given layers instead; `hold_w1` keeps their W1 as it
    is (a rounded one, say) and fits the rest around it.
    """
    signs = np.asarray(table.signs, np.float32)
    means = np.asarray(table.means, np.float32)
    params = _start(table, m, rng) if start is None else [np.array(a, np.float32) for a in start]
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    cdf = np.cumsum(table.counts)
    picks = np.minimum(np.searchsorted(cdf, rng.random((steps, batch)) * cdf[-1], side="right"), len(cdf) - 1)
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
        for p, g, m1, m2 in list(zip(params, grads, first, second))[int(hold_w1) :]:
            m1 *= 0.9
            m1 += 0.1 * g
            m2 *= 0.999
            m2 += 0.001 * g * g
            p -= rate * (m1 / correct1) / (np.sqrt(m2 / correct2) + 1e-7)
        if t % REFIT_EVERY == 0:
            _refit_output(params, table)
    return tuple(params)


# -n auto: the fewest colour units whose fit to the first model's region table comes this close (dB) to
# every region painted its own mean colour (what the dividers allow) paint the regions; a fit this good
# (dB) is close enough in any case (regions of one flat colour each allow an infinite PSNR).
AUTO_WITHIN = 0.2
AUTO_ENOUGH = 40.0
# ... and the run takes this many times as many, for the regions training cuts as the dividers move.
# Tuned at 60 s on astronaut, chelsea and rose (32 lines and 32 circles; 128 dividers miss the regions'
# colours at every M): with 4 each run came within 0.15 dB of its best fixed M; with 2, rose's 32
# circles fell 0.30 short, with 1 (the fewest alone) chelsea's 32 lines 0.24.
AUTO_HEADROOM = 4


def table_psnr(table, layers):
    """PSNR on a region table of the colour layers (W1, b1, W2, b2)."""
    w1, b1, w2, b2 = layers
    hidden = np.maximum(np.asarray(table.signs, np.float32) @ w1 + b1, 0.0)
    return psnr(table.mse(output(hidden, w2, b2)))


def choose_colour_units(table, choices, make_rng, within=AUTO_WITHIN, headroom=AUTO_HEADROOM):
    """(M, its fitted layers, a line saying why) for -n auto: enough colour units for the regions and training.

    Each M of `choices`, largest first, is fitted to the table as the first
    model is (`make_rng()` gives each the same generator, so the layers of
    the M chosen are those a run given -n M would start from), down to the
    fewest whose fit comes within `within` dB of each region painted its own
    mean colour; the run takes `headroom` times that many (the smallest
    choice at least that), as training cuts new regions. When even the most
    miss, the most, and the rest are not tried. Tuning and measurements:
    bench/results/2026-12-02-colour-units.md.
    """
    ordered, best = sorted(choices, reverse=True), table.best_psnr()
    target = min(best, AUTO_ENOUGH) - within
    fits, fewest = {}, None
    for m in ordered:
        layers = fit_colour_layers(table, m, make_rng())
        fits[m] = (layers, table_psnr(table, layers))
        if fits[m][1] < target:
            break
        fewest = m
    tried = ", ".join(f"{m}: {fitted:.2f}" for m, (_, fitted) in sorted(fits.items()))
    allowed = f"each region painted its own colour ({best:.2f} dB)"
    if fewest is None:
        m = ordered[0]
        why = f"even {m} miss {allowed} by more than {within:g} dB: the most"
    else:
        m = min((c for c in ordered if c >= fewest * headroom), default=ordered[0])
        why = f"{fewest} come within {within:g} dB of {allowed}; {headroom:g} times that for the regions training cuts"
    line = f"-n auto: {m} colour units for {len(table.counts)} regions; fitted to them, {tried} dB; {why}"
    return m, fits[m][0], line
