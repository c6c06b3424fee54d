"""A model as a small binary file (.sfm), for the web viewer (data/scalefree-image.js) and for Python.

Layout, little-endian: a header of 18 bytes plus 3 a group, then one raw
deflate stream.

    "SFIM"  version (u8, 1)  height (u16)  width (u16)  M (u8: colour units)
    groups (u8), then a group each: kind (u8: 1 lines, 2 circles)  count (u16)
    divider bits (u8)  reach (f32)  weights (u8: their bits, + 128 when packed)  float bytes (u8: 2 or 4)
    deflate(
      the dividers, group by group, as unsigned integers packed most
      significant bit first: a line as (angle: divider bits + 2, offset:
      divider bits), a circle as (x, y, radius: divider bits each);
      when packed, W1 (N x M, row by row) as integers q + L in the same
      stream, at the weights' bits each, q in [-L, L], L = 2^(bits - 1) - 1;
      the stream padded to a whole byte;
      when not packed, W1 as q, one byte each (two, little-endian, above 8 bits);
      the scales of W1's M columns, b1 (M), W2 (M x 3), b2 (3), as float16 or float32
    )

Packed weights take their bits exactly; bytes let deflate code the common
small values shortly, which pays for large models only: the encoder writes
whichever is smaller.

A position (a line's offset from the plane's origin, a circle's centre) is
q * step - reach with step = 2 reach / (2^bits - 1), a radius q * step / 2,
an angle q * 2 pi / 2^(bits + 2). The step is a sixteenth of a frame pixel by
default, so an edge sits within a quarter of a pixel of its place even at
-x 4. W1 is rounded as `quantised` rounds it, at the bits that give the most
PSNR against the photo for the bytes (or within a byte budget, the best),
or without the photo, the fewest that keep the colours within FIDELITY dB
of the exact model's.

`decode` checks all it reads (sizes, counts, what the stream inflates to,
finite numbers) and raises ModelDataError with one line; the viewer makes
the same checks.
"""

import functools
import struct
import zlib

import numpy as np

from ..errors import UserError
from ..model import ColourLayers, Model
from ..plane import regions
from ..plane.coords import grid, pixel_axes
from ..shapes.circles import Circles
from ..shapes.lines import Lines

MAGIC = b"SFIM"
PACKED = 128  # added to the weights' bits: packed in the stream
VERSION = 1
EXTENSION = ".sfm"
LINES, CIRCLES = 1, 2
# Limits a file must keep to, here and in the viewer: they bound the memory and the time drawing takes.
MAX_DIVIDERS = 4096
MAX_WEIGHTS = 1 << 17  # N x M
MAX_BYTES = 1 << 20  # the file, and what its stream inflates to

# An edge is placed to this share of a frame pixel.
EDGE_STEP = 1 / 16
# (bits of W1, bytes of the other colour numbers) tried, cheapest first.
PRECISIONS = tuple((bits, floats) for bits in (4, 5, 6, 7, 8, 10, 12) for floats in (2, 4))
# With the photo, the precision that draws it best for its bytes, at this exchange rate: doubling the
# bytes of a model data file (by twice the dividers, or the colour units too) gains about 1.5 to 2.5 dB,
# doubling primitive's triangles 1.2 to 1.6 (bench --web). Pictures of about CHECK_PIXELS pixels.
DB_PER_DOUBLING = 1.5
CHECK_PIXELS = 1 << 17
# Without: how close the colours must stay to the exact ones, in the frame and in the view -b 3 shows.
FIDELITY = 42.0
# The rounding is fitted and checked on a grid over the frame and one as large over the view 4x as wide.
FIT_PIXELS = 1 << 15
# With the photo, the colour layers are fitted again around what the file rounds, on the region table of
# the rounded dividers: TUNE_STEPS for all of them (the last steps of training, seeing the dividers the file
# holds), then at each precision REFIT_STEPS for b1, W2 and b2 around the rounded W1. Measured on the
# tuning photos: +0.1 to +0.45 dB at 4 bits, and PSNR less DB_PER_DOUBLING per doubling of bytes +0.15 on
# average at the precision chosen (600 refit steps: +0.01 more).
TUNE_STEPS = 2000
REFIT_STEPS = 200
TUNE_RATE = 0.001


class ModelDataError(UserError, ValueError):
    """Bytes that are not model data this version can read; the message is one line."""


def fit_points(size):
    """Grids over the frame and over the view 4 times as wide, about FIT_PIXELS points each (as many in both)."""
    height, width = size
    fit = min(1.0, (FIT_PIXELS / (height * width)) ** 0.5)
    return np.concatenate([grid(*pixel_axes(height, width, fit, border)) for border in (0, 3)])


def model_data(model, precision=None, edge_step=EDGE_STEP, photo=None, max_bytes=None):
    """(the model as .sfm bytes, the model those bytes hold).

    `precision` is (bits of W1, bytes of the other colour numbers), and
    whether W1 is packed (without, the smaller of packed and not). Without
    it: given the `photo` (as the model's training state holds it), the one
    of PRECISIONS whose PSNR against the photo less DB_PER_DOUBLING per
    doubling of its bytes is highest, or with `max_bytes` the best PSNR within
    that many bytes; without a photo, the cheapest whose colours stay within
    FIDELITY dB of the exact model's, in the frame and beyond it.
    """
    from ..plane.pictures import downscale, picture_psnr

    if not model.has_partition:
        raise ValueError("a relu model has no dividers to write as model data; render it as a PNG instead")
    if max_bytes is not None and photo is None:
        raise ValueError("a byte budget needs the photo, to choose the precision that draws it best")
    head, stream = _dividers(model, edge_step)
    points = fit_points(model.size)
    # The dividers as the file rounds them, and their sides: what the colours are fitted to.
    groups = [(kind, len(g)) for kind, g in zip(_kinds(model), model.dividers)]
    bits, reach = struct.unpack_from("<Bf", head, len(head) - 5)
    rounded = _read_dividers(stream.astype(np.int64), groups, bits, reach)[0]
    signs = regions.sides(rounded, points)
    layers = model.colour_layers
    if photo is not None:
        photo = downscale(photo, max(1.0, (photo.shape[0] * photo.shape[1] / CHECK_PIXELS) ** 0.5))
        table = regions.region_table(photo, rounded)
        layers = _refitted(table, layers, start=layers.arrays, steps=TUNE_STEPS)

    @functools.cache
    def rounding(bits):
        q, scale, drawn = quantised(layers.arrays, signs, (1 << (bits - 1)) - 1)
        if photo is not None:
            drawn = _refitted(table, ColourLayers(*drawn), start=drawn, steps=REFIT_STEPS, hold_w1=True).arrays
        return q, scale, drawn

    def encoded(bits, floats, codings=(False, True)):
        levels = (1 << (bits - 1)) - 1
        q, scale, drawn = rounding(bits)
        rest = np.concatenate([scale, drawn[1], np.ravel(drawn[2]), drawn[3]]).astype(f"<f{floats}").tobytes()
        as_bytes = np.packbits(stream).tobytes() + q.astype("<i1" if bits <= 8 else "<i2").tobytes()
        packed = np.packbits(np.concatenate([stream, _bits([q.ravel() + levels], [bits])])).tobytes()
        data = min(
            (
                head + struct.pack("<BB", code, floats) + zlib.compress(body + rest, 9, wbits=-15)
                for code, body in ((bits, as_bytes), (bits + PACKED, packed))
                if (code > PACKED) in codings
            ),
            key=len,
        )
        return data, decode(data).replace(sharpness=model.sharpness)

    if precision:
        return encoded(*precision[:2], precision[2:] or (False, True))
    if photo is not None:
        scored = []
        for bits, floats in PRECISIONS:
            data, held = encoded(bits, floats)
            scored.append((len(data), picture_psnr(held.render(size=photo.shape[:2]), photo), data, held))
        if max_bytes is not None:
            within = [s for s in scored if s[0] <= max_bytes]
            if not within:
                smallest = min(s[0] for s in scored)
                raise ModelDataError(
                    f"the model data of this model takes at least {smallest:,} bytes, more than {max_bytes:,}: "
                    "train fewer dividers or colour units"
                )
            return max(within, key=lambda s: (s[1], -s[0]))[2:]
        # Bytes and PSNR at the exchange rate of the curves of models of more dividers.
        return max(scored, key=lambda s: s[1] - DB_PER_DOUBLING * np.log2(s[0]))[2:]
    exact = layers.paint(layers.hidden(signs))
    # The frame is checked on its own: beyond it errors may be larger, and would hide the frame's.
    frame = np.arange(len(points)) < len(points) // 2
    for bits, floats in PRECISIONS:
        data, held = encoded(bits, floats)
        colours = held.colour_layers.paint(held.colour_layers.hidden(signs))
        if min(picture_psnr(colours[part], exact[part]) for part in (frame, ~frame)) >= FIDELITY:
            break
    return data, held


# A typical precision, for sizing a model before it is trained: W1's bits (packed) and the edges' step.
TYPICAL_WEIGHT_BITS = 5


def estimated_bytes(kind, n, m, size, weight_bits=TYPICAL_WEIGHT_BITS):
    """About how many bytes the model data of n dividers of `kind` ("linear" or "circular") and m colour
    units takes, for a frame of `size` (height, width), with W1 packed at `weight_bits` and float16."""
    pitch = 2.0 / max(size)
    bits = int(np.clip(np.ceil(np.log2(2 * 1.5 / (EDGE_STEP * pitch) + 1)), 8, 24))
    per_divider = 2 * bits + 2 if kind == "linear" else 3 * bits
    # The header, deflate's few bytes of framing, the bit stream, the float16 numbers.
    return 21 + 5 + (n * per_divider + n * m * weight_bits + 7) // 8 + 2 * (5 * m + 3)


def shape_for_budget(max_bytes, kind, size, n=None, m=None):
    """(N, M) whose model data fits `max_bytes`: the most dividers with a colour unit for every four of
    them (4 at least), as the bench's curves favour; a given n or m is kept. ModelDataError if none fits."""
    colours = (lambda k: m) if m is not None else (lambda k: max(4, round(k / 4)))
    if n is not None:
        if estimated_bytes(kind, n, colours(n), size) > max_bytes:
            raise ModelDataError(
                f"{n} dividers and {colours(n)} colour units take about {estimated_bytes(kind, n, colours(n), size):,} "
                f"bytes of model data, more than --max_bytes {max_bytes:,}"
            )
        return n, colours(n)
    k = 2
    if estimated_bytes(kind, k, colours(k), size) > max_bytes:
        raise ModelDataError(
            f"--max_bytes {max_bytes:,} is less than the smallest model data "
            f"({estimated_bytes(kind, k, colours(k), size):,} bytes for 2 dividers)"
        )
    while k < MAX_DIVIDERS and estimated_bytes(kind, k + 1, colours(k + 1), size) <= max_bytes:
        k += 1
    return k, colours(k)


def _refitted(table, layers, **fit):
    """`layers` fitted again to the region table (colouring.fit_colour_layers with `fit`), or kept when that
    does not lower the error."""
    from ..plane.colouring import fit_colour_layers

    tuned = ColourLayers(*fit_colour_layers(table, layers.w1.shape[1], np.random.default_rng(0), rate=TUNE_RATE, **fit))
    errors = [table.mse(c.colours(c.hidden(table.signs))) for c in (layers, tuned)]
    return tuned if errors[1] < errors[0] else layers


def quantised(colour_layers, signs, levels):
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


def _kinds(model):
    return [LINES if isinstance(g, Lines) else CIRCLES for g in model.dividers]


def _dividers(model, edge_step):
    """(the header up to the weights' byte, the dividers' bits)."""
    height, width = model.size
    groups = model.dividers
    if not 0 < len(groups) < 256 or not 0 < model.n_colour_units < 256:
        raise ValueError("model data holds 1 to 255 groups of dividers and 1 to 255 colour units")
    tables = [(kind, np.asarray(g.page_table(), np.float64)) for kind, g in zip(_kinds(model), groups)]
    # Every position and every radius lies within reach of the origin.
    reach = 1.0
    for kind, t in tables:
        if kind == LINES:
            reach = max(reach, np.abs(t[:, 1]).max(initial=0))
        else:
            reach = max(reach, np.abs(t[:, :2]).max(initial=0), np.exp(t[:, 2]).max(initial=0))
    reach = float(np.float32(reach * (1 + 1e-6)))
    pitch = 2.0 / max(height, width)
    bits = int(np.clip(np.ceil(np.log2(2 * reach / (edge_step * pitch) + 1)), 8, 24))
    step, top = 2 * reach / ((1 << bits) - 1), (1 << bits) - 1
    head = MAGIC + struct.pack("<BHHBB", VERSION, height, width, model.n_colour_units, len(groups))
    bits_of_groups = []
    for kind, t in tables:
        head += struct.pack("<BH", kind, len(t))
        if kind == LINES:
            turns = 1 << (bits + 2)
            angle = np.round(np.mod(t[:, 0], 2 * np.pi) * (turns / (2 * np.pi))).astype(np.int64) % turns
            offset = np.clip(np.round((t[:, 1] + reach) / step), 0, top)
            bits_of_groups.append(_bits([angle, offset], [bits + 2, bits]))
        else:
            xy = np.clip(np.round((t[:, :2] + reach) / step), 0, top)
            radius = np.clip(np.round(np.exp(t[:, 2]) / (step / 2)), 1, top)
            bits_of_groups.append(_bits([xy[:, 0], xy[:, 1], radius], [bits] * 3))
    head += struct.pack("<Bf", bits, reach)
    return head, np.concatenate(bits_of_groups)


def _bits(columns, widths):
    """Columns of unsigned integers as bits, divider by divider, each value at its width, most significant first."""
    parts = [(np.asarray(c, np.int64)[:, None] >> np.arange(w - 1, -1, -1)) & 1 for c, w in zip(columns, widths)]
    return np.concatenate(parts, axis=1).astype(np.uint8).ravel()


def decode(data):
    """The Model .sfm bytes hold (no training state); ModelDataError if they are not such a file."""
    data = bytes(data)
    if len(data) > MAX_BYTES:
        raise ModelDataError(f"model data is at most {MAX_BYTES} bytes; this is {len(data)}")
    if data[:4] != MAGIC:
        raise ModelDataError("not scalefree model data (it does not start with SFIM)")
    if len(data) < 11:
        raise ModelDataError("the header is cut short")
    version, height, width, m, count = struct.unpack_from("<BHHBB", data, 4)
    if version != VERSION:
        raise ModelDataError(f"model data version {version}; this reads version {VERSION}")
    end = 11 + 3 * count + 7
    if len(data) < end:
        raise ModelDataError("the header is cut short")
    groups = [struct.unpack_from("<BH", data, 11 + 3 * i) for i in range(count)]
    bits, reach, weight_bits, floats = struct.unpack_from("<BfBB", data, 11 + 3 * count)
    packed = weight_bits >= PACKED
    weight_bits -= PACKED * packed
    n = sum(c for _, c in groups)
    if not (height and width and m and count):
        raise ModelDataError("a size, the colour units or the groups are zero")
    if any(kind not in (LINES, CIRCLES) for kind, _ in groups):
        raise ModelDataError("a group of an unknown kind of divider")
    if n > MAX_DIVIDERS or n * m > MAX_WEIGHTS:
        raise ModelDataError(f"{n} dividers and {m} colour units: more than a file may hold")
    if not (8 <= bits <= 24 and 2 <= weight_bits <= 16 and floats in (2, 4)):
        raise ModelDataError("precisions out of range")
    if not (np.isfinite(reach) and 0 < reach <= 1e6):
        raise ModelDataError("the reach is not a positive number")
    row_bits = [2 * bits + 2 if kind == LINES else 3 * bits for kind, _ in groups]
    divider_bits = sum(b * c for b, (_, c) in zip(row_bits, groups))
    if packed:
        stream, weights = (divider_bits + n * m * weight_bits + 7) // 8, 0
    else:
        stream, weights = (divider_bits + 7) // 8, n * m * (1 if weight_bits <= 8 else 2)
    expected = stream + weights + floats * (5 * m + 3)
    inflater = zlib.decompressobj(wbits=-15)
    try:
        body = inflater.decompress(data[end:], expected + 1)
    except zlib.error:
        raise ModelDataError("its stream is not deflate data") from None
    if inflater.unused_data:
        raise ModelDataError("bytes follow the end of its stream")
    if len(body) != expected or not inflater.eof:
        raise ModelDataError(f"its stream holds {'more' if len(body) > expected else 'less'} than its header says")
    bitstream = np.unpackbits(np.frombuffer(body[:stream], np.uint8)).astype(np.int64)
    dividers, at = _read_dividers(bitstream, groups, bits, reach)
    limit = (1 << (weight_bits - 1)) - 1
    if packed:
        q = _unpack(bitstream, at, n * m, [weight_bits])[0][:, 0].astype(np.float64) - limit
    else:
        q = np.frombuffer(body, "<i1" if weight_bits <= 8 else "<i2", n * m, stream).astype(np.float64)
    if np.abs(q).max(initial=0) > limit:
        raise ModelDataError(f"a weight outside [-{limit}, {limit}]")
    rest = np.frombuffer(body, f"<f{floats}", 5 * m + 3, len(body) - floats * (5 * m + 3)).astype(np.float64)
    if not np.isfinite(rest).all():
        raise ModelDataError("a colour number is not finite")
    scale, b1, w2, b2 = np.split(rest, [m, 2 * m, 5 * m])
    colours = ColourLayers(q.reshape(n, m) * scale, b1, w2.reshape(m, 3), b2)
    return Model(dividers, colours, (height, width))


def _read_dividers(bitstream, groups, bits, reach):
    """(the groups of dividers the bit stream starts with, the bit after them)."""
    step = 2 * float(reach) / ((1 << bits) - 1)
    dividers, at = [], 0
    for kind, c in groups:
        widths = [bits + 2, bits] if kind == LINES else [bits] * 3
        values, at = _unpack(bitstream, at, c, widths)
        if kind == LINES:
            angle = values[:, 0] * (2 * np.pi / (1 << (bits + 2)))
            offset = values[:, 1] * step - reach
            centers = np.stack([offset * np.cos(angle), offset * np.sin(angle)], axis=1)
            dividers.append(Lines(centers.astype(np.float32), angle.astype(np.float32)))
        else:
            if (values[:, 2] == 0).any():
                raise ModelDataError("a circle of radius 0")
            centers = values[:, :2] * step - reach
            dividers.append(Circles(centers.astype(np.float32), np.log(values[:, 2] * step / 2).astype(np.float32)))
    return dividers, at


def _unpack(bitstream, at, rows, widths):
    """(rows x len(widths) unsigned integers read from bit `at`, the bit after them)."""
    size = sum(widths)
    chunk = bitstream[at : at + rows * size].reshape(rows, size)
    out, start = [], 0
    for w in widths:
        out.append(chunk[:, start : start + w] @ (1 << np.arange(w - 1, -1, -1, dtype=np.int64)))
        start += w
    return np.stack(out, axis=1) if rows else np.zeros((0, len(widths)), np.int64), at + rows * size
