"""A line or circle model as one self-contained web page that draws it: `--just_image --html`.

The page holds the model, not a picture of it: the dividers as float32, the
colour units' weights (the first layer's as 6-bit integers with a scale per
colour unit, which costs a few hundredths of a dB), and a short script
(data/viewer.html) that draws the partition row by row on a canvas, as
`--hard` renders it, at any size, zoomed and moved with the mouse, beyond the
photo's frame too.
"""

import base64
import json
from importlib import resources
from string import Template

import numpy as np

from ..model import ColourLayers
from ..plane.coords import grid, pixel_axes
from ..plane.pictures import picture_psnr
from .svg import xml_text

# The first layer's weights are integers of one character (6 bits) each, or
# of two (12 bits) when one would move the frame's colours by more than
# FIDELITY allows (trained models need one; weights as large as random
# normal ones, two).
LEVELS = (31, 2047)
FIDELITY = 42.0  # dB: the page's colours against the exact ones, over the frame and beyond
_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def quantised(colour_layers, signs, levels=LEVELS[0]):
    """The first layer's weights as integers in [-levels, levels] with a scale per colour unit.

    Returns (integers (N, M), scales (M,), the colour layers the page draws
    with). Rounding each weight on its own would add up N errors in every
    colour unit; instead each divider's rounding error is carried into the
    weights not yet rounded, in the proportions that keep the colour units'
    inputs closest, over the frame's pixels, to the exact ones (the GPTQ
    method of Frantar et al., 2022). The bias, rounded last and kept exact,
    takes what is left. `signs` is the (pixels, N) +-1 side of every divider
    at the frame's pixels (geometry.sides).
    """
    w1, b1, w2, b2 = (np.asarray(a, np.float64) for a in colour_layers)
    n = len(w1)
    scale = (np.abs(w1).max(axis=0) / levels).astype(np.float32).astype(np.float64)
    scale[scale == 0] = 1.0
    inputs = np.concatenate([signs, np.ones((len(signs), 1))], axis=1)
    gram = inputs.T @ inputs
    gram += np.eye(n + 1) * 1e-3 * np.mean(np.diag(gram))
    # Upper Cholesky factor of the inverse: row i says how i's error spreads to the rows after it.
    spread = np.linalg.cholesky(np.linalg.inv(gram)).T
    w = np.concatenate([w1, b1[None]], axis=0)
    q = np.zeros_like(w1)
    for i in range(n):
        q[i] = np.clip(np.round(w[i] / scale), -levels, levels)
        error = (w[i] - q[i] * scale) / spread[i, i]
        w[i + 1 :] -= np.outer(spread[i, i + 1 :], error)
    bias = w[n].astype(np.float32).astype(np.float64)
    return q.astype(np.int16), scale, (q * scale, bias, w2, b2)


def _digits(q, levels):
    """Integers in [-levels, levels] as one character each (levels < 32) or two, most significant first."""
    shifted = (np.asarray(q).ravel().astype(np.int64) + levels).tolist()
    if levels < 32:
        return "".join(_DIGITS[v] for v in shifted)
    return "".join(_DIGITS[v >> 6] + _DIGITS[v & 63] for v in shifted)


def _base64(a):
    return base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode("ascii")


# Points the rounding of the first layer is fitted on: a grid over the frame
# and one as large over the view 4 times as wide that -b 3 shows, for the
# colours beyond the frame.
FIT_PIXELS = 1 << 15


def page(model, about="", title="scalefree"):
    """The page's HTML text, and the model it draws (its first colour layer rounded), to measure what rounding costs.

    The model's frame (its `size`) sets the view the page opens on and what
    `#x=4&b=0.5` in its address means (the view `--just_image -x 4 -b 0.5`
    renders).
    """
    (dividers,) = model.dividers
    height, width = model.size
    fit = min(1.0, (FIT_PIXELS / (height * width)) ** 0.5)
    points = [grid(*pixel_axes(height, width, fit, border)) for border in (0, 3)]
    signs = model.sides(np.concatenate(points))
    layers = model.colour_layers
    exact = layers.paint(layers.hidden(signs))
    for levels in LEVELS:
        q, scale, drawn = quantised(layers.arrays, signs, levels)
        drawn = ColourLayers(*drawn)
        if picture_psnr(drawn.paint(drawn.hidden(signs)), exact) >= FIDELITY:
            break
    data = {
        "kind": model.type,
        "h": int(height),
        "w": int(width),
        "n": int(q.shape[0]),
        "m": int(q.shape[1]),
        "levels": levels,
        "d": _base64(dividers.page_table()),
        "w1": _digits(q, levels),
        "f": _base64(np.concatenate([scale, drawn.b1, np.ravel(drawn.w2), drawn.b2])),
        "about": about,
    }
    # Inside <script>, "</script" would end it early and "<!--" change how it is read: JSON
    # may write every "<" as "\\u003c".
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return _template().substitute(title=xml_text(title), model=text), model.replace(colour_layers=drawn)


def _template():
    """The viewer without its whole-line comments and indentation: a tenth of the gzipped page."""
    source = resources.files("scalefree").joinpath("data/viewer.html").read_text("utf-8")
    return Template("\n".join(line.strip() for line in source.splitlines() if not line.strip().startswith("//")))
