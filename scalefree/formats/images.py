"""Reading any image as 8-bit RGB, and writing renders."""

import io
import os
import stat
import warnings
from importlib import resources

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import UserError
from .atomic import OutputError, atomic_path
from .photofile import LARGE_PIXELS, PhotoFile, PhotoFileError
from .streams import NotAFile, check_readable, read_bytes

# Transparent pixels are shown over white, as an image viewer would.
_BACKGROUND = (255, 255, 255)
# The largest picture read (800 MB as 8-bit RGB). A file that declares more
# is refused before it is decoded: a few kilobytes of PNG can claim
# 100000 x 100000 pixels. Pillow's own check stops at twice this.
MAX_PIXELS = 1 << 28
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# The most read from a pipe: an image compressed worse than raw RGB is not one.
MAX_STREAM_BYTES = 3 * MAX_PIXELS
# The largest photo read a band at a time (a PhotoFile): pixels are counted in 32-bit integers.
MAX_FILE_PIXELS = (1 << 31) - 1


class ImageError(UserError):
    """An image that cannot be read or written; the message is meant for the user."""


def to_rgb(im):
    """An 8-bit RGB copy of a Pillow image of any mode (grey, alpha, palette, 16-bit)."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, _BACKGROUND + (255,))
        im = Image.alpha_composite(background, im)
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def read_image(path):
    """The image at `path` as an (h, w, 3) uint8 array."""
    if not os.path.exists(path):
        raise ImageError(f"image not found: {path}")
    try:
        # A folder or a device is refused unopened; a pipe is read without blocking.
        source = path
        if stat.S_ISFIFO(check_readable(path, "image")):
            source = io.BytesIO(read_bytes(path, MAX_STREAM_BYTES, "image"))
    except NotAFile as err:
        raise ImageError(str(err)) from None
    try:
        with warnings.catch_warnings():
            # Above MAX_PIXELS Pillow warns; the check below says it in one line instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageError(too_large(path, w, h))
                im.load()
                return to_rgb(im)
    except UnidentifiedImageError:
        raise ImageError(f"not an image file Pillow can read: {path}") from None
    except Image.DecompressionBombError as err:
        raise ImageError(f"cannot read image {path}: {err}") from None
    except (OSError, ValueError, SyntaxError, MemoryError) as err:
        raise ImageError(f"cannot read image {path}: {err or type(err).__name__}") from None


def too_large(path, width, height, limit=MAX_PIXELS):
    return (
        f"image {path} is {width}x{height} ({width * height / 1e6:.0f} megapixels), more than "
        f"scalefree reads ({limit / 1e6:.0f}); shrink it first"
    )


def open_photo(path):
    """The photo at `path`: an (h, w, 3) uint8 array, or a PhotoFile above LARGE_PIXELS (read a band at a time)."""
    if not os.path.exists(path):
        raise ImageError(f"image not found: {path}")
    try:
        regular = stat.S_ISREG(check_readable(path, "image"))
    except NotAFile as err:
        raise ImageError(str(err)) from None
    if not regular or not _large(path):
        return read_image(path)
    try:
        photo = PhotoFile.open(path)
    except PhotoFileError as err:
        raise ImageError(str(err)) from None
    if photo.height * photo.width > MAX_FILE_PIXELS:
        raise ImageError(too_large(path, photo.width, photo.height, limit=MAX_FILE_PIXELS))
    return photo


def _large(path):
    """Whether the header of the file at `path` declares more than LARGE_PIXELS; nothing is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                return w * h > LARGE_PIXELS
    except Image.DecompressionBombError:
        return True  # more than Pillow opens at all
    except (OSError, ValueError, SyntaxError):
        return False  # read_image says what is wrong with it


BUNDLED_IMAGE = "astronaut.png"


def read_bundled_image():
    """The photo that ships inside the package, learnt when no image is given."""
    with resources.as_file(resources.files("scalefree") / "data" / BUNDLED_IMAGE) as path:
        return read_image(str(path))


def as_rgb(image):
    """An (h, w, 3) uint8 array from a path, a Pillow image or an array (grey, alpha and floats in [0, 1] too)."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(os.fspath(image))
    if isinstance(image, Image.Image):
        return to_rgb(image)
    array = np.asarray(image)
    if array.dtype.kind == "f":
        array = np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        raise ImageError(f"an image array should hold uint8 values or floats in [0, 1], not {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (2, 4):
        return to_rgb(Image.fromarray(array))
    if array.ndim != 3 or array.shape[2] != 3 or 0 in array.shape:
        raise ImageError(f"an image array should be (height, width, 3), not {array.shape}")
    return np.ascontiguousarray(array)


def write_image(image, path):
    """Write an (h, w, 3) uint8 array; the format comes from the extension."""
    if os.path.isdir(path) or str(path).endswith(os.sep):
        raise OutputError(f"cannot write {path}: it is a directory")
    ext = os.path.splitext(path)[1].lower()
    if ext not in Image.registered_extensions():
        raise ImageError(f"unknown image extension {ext!r} in {path}")
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(image).save(tmp, format=Image.registered_extensions()[ext])
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
