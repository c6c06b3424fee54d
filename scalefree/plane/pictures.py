"""Pictures as arrays: 8-bit colours, PSNR, and shrinking a photo to a training size."""

import math

import numpy as np


def to_uint8(rgb):
    """Float RGB in [0, 1] to uint8, rounding."""
    return np.clip(np.asarray(rgb) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def psnr(mse):
    """Peak signal-to-noise ratio in dB for colours in [0, 1]."""
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def picture_psnr(picture, photo):
    """PSNR in dB between two uint8 pictures of one size."""
    return psnr(float(np.mean(np.square((np.asarray(picture, float) - photo) / 255.0))))


def working_factor(height, width, factor=None, pixel_budget=None):
    """How much to shrink a photo for training: `factor` if given, else just enough to fit `pixel_budget`."""
    if factor is not None:
        return float(factor)
    return max(1.0, (height * width / pixel_budget) ** 0.5)


def shrunk_size(height, width, factor):
    """(height, width) of a photo shrunk by `factor`."""
    return max(1, round(height / factor)), max(1, round(width / factor))


def downscale(image, factor):
    """The image shrunk by `factor` (1 leaves it as it is)."""
    from PIL import Image

    if factor == 1:
        return image
    h, w = shrunk_size(*image.shape[:2], factor)
    # reducing_gap: a box filter first, then Lanczos; the same picture, many times faster on big photos.
    return np.asarray(Image.fromarray(image).resize((w, h), Image.LANCZOS, reducing_gap=3.0))
