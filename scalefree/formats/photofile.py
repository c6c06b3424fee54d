"""A photo too large to hold whole: known by its path, size and content hash, read a band of rows at a time.

A 100-megapixel photo is 300 MB as 8-bit RGB. Held whole, it is held by
every worker of a cluster and written into every checkpoint. A PhotoFile
holds none of it: a worker reads its own band of rows (scaled to the
training size), placement and the window read a shrunk copy, and a
checkpoint records the path, the size and the SHA-256 of the file's bytes,
which resuming checks.

libvips (pyvips) reads it: it decodes JPEG, PNG, TIFF, WebP and more a few
rows at a time, shrinks while it decodes, and reads only the tiles a band
needs from a tiled TIFF; Pillow decodes a whole image or nothing.
"""

import hashlib
import logging
import os
import stat

import numpy as np

from ..errors import UserError
from .streams import check_readable

# A photo with more pixels than this is read as a PhotoFile: never whole, and never stored in a checkpoint.
LARGE_PIXELS = 1 << 24
# Rows are read and handed on in bands of about this many pixels (768 kB as RGB). Larger bands cost
# memory while a photo is read: 1 << 20 raised the peak by 43 MB on a 100-megapixel photo.
BAND_PIXELS = 1 << 18
_HASH_CHUNK = 1 << 22


class PhotoFileError(UserError):
    """A PhotoFile that cannot be read, or is no longer the photo it was; the message is meant for the user."""


def _vips():
    try:
        import pyvips
    except (ImportError, OSError) as err:  # OSError: the library itself failed to load
        raise PhotoFileError(f"reading photos above {LARGE_PIXELS >> 20} megapixels needs pyvips: {err}") from None
    # libvips keeps recent results in a cache; a band read once is not read again.
    pyvips.cache_set_max(0)
    # libvips's warnings on a damaged file would reach the terminal through logging's last resort;
    # the error that follows them says it in one line.
    logger = logging.getLogger("pyvips")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    return pyvips


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class PhotoFile:
    """The photo at `path`, (height, width) pixels, whose bytes hash to `sha256`; read on demand.

    `shape` is (height, width, 3), as an array's would be, so the code that
    asks only a photo's size takes either.
    """

    def __init__(self, path, height, width, sha256):
        self.path, self.height, self.width, self.sha256 = os.fspath(path), int(height), int(width), str(sha256)

    @classmethod
    def open(cls, path):
        """The photo at `path` (a regular file libvips reads), its bytes hashed now."""
        if not stat.S_ISREG(check_readable(path, "image")):
            raise PhotoFileError(f"{path} is a pipe: a photo this large is read from a file")
        image = _open(path)
        return cls(os.path.abspath(path), image.height, image.width, sha256_of(path))

    @property
    def shape(self):
        return (self.height, self.width, 3)

    def __repr__(self):
        return f"PhotoFile({self.path!r}, {self.width}x{self.height}, sha256 {self.sha256[:12]}...)"

    def __eq__(self, other):
        return isinstance(other, PhotoFile) and (self.path, self.shape, self.sha256) == (
            other.path,
            other.shape,
            other.sha256,
        )

    def check(self):
        """Raise PhotoFileError unless the file at `path` is still this photo (its size and hash)."""
        how = "give the photo it learnt with -i (a checkpoint records a large photo by path and hash, not its pixels)"
        try:
            mode = os.stat(self.path).st_mode
        except OSError as err:
            why = err.strerror or err
            raise PhotoFileError(f"the model's photo {self.path} cannot be read ({why}): {how}") from None
        if not stat.S_ISREG(mode) or sha256_of(self.path) != self.sha256:
            raise PhotoFileError(f"the model's photo {self.path} has changed since it learnt it: {how}")

    def at_size(self, height, width):
        """The photo scaled to (height, width), as a Picture read band by band."""
        return Picture(self, int(height), int(width))

    def shrunk(self, max_pixels):
        """The whole photo shrunk to about `max_pixels` (never enlarged), as an (h, w, 3) uint8 array."""
        scale = min(1.0, (max_pixels / (self.height * self.width)) ** 0.5)
        return self.resized(max(1, round(self.height * scale)), max(1, round(self.width * scale)))

    def resized(self, height, width):
        """The whole photo at (height, width), as an (h, w, 3) uint8 array."""
        vips = _vips()
        try:
            # A JPEG shrinks while it decodes (a power of two at a time), many times faster than a resize.
            image = vips.Image.thumbnail(self.path, width, height=height, size="force", fail_on="error")
        except vips.Error as err:
            raise PhotoFileError(f"cannot read {self.path}: {_first_line(err)}") from None
        image = _rgb(image)
        return np.ndarray((image.height, image.width, 3), np.uint8, image.write_to_memory()).copy()


class Picture:
    """A PhotoFile at a given size, read a band of rows at a time (top to bottom) without holding the rest."""

    def __init__(self, photo, height, width):
        self.photo, self.height, self.width = photo, height, width

    @property
    def shape(self):
        return (self.height, self.width, 3)

    def bands(self, top=0, bottom=None, band_pixels=BAND_PIXELS):
        """(row, array) for consecutive bands of rows from `top` to `bottom`: each (rows, width, 3) uint8."""
        bottom = self.height if bottom is None else bottom
        if top >= bottom:
            return
        image = _rgb(_open(self.photo.path))
        if (image.height, image.width) != (self.photo.height, self.photo.width):
            raise PhotoFileError(f"{self.photo.path} is no longer {self.photo.width}x{self.photo.height}")
        if (self.height, self.width) != (image.height, image.width):
            image = image.resize(self.width / image.width, vscale=self.height / image.height, kernel="lanczos3")
        region = _vips().Region.new(image)
        rows = max(1, band_pixels // self.width)
        try:
            for row in range(top, bottom, rows):
                n = min(rows, bottom - row)
                data = region.fetch(0, row, self.width, n)
                yield row, np.frombuffer(data, np.uint8).reshape(n, self.width, 3)
        except _vips().Error as err:
            raise PhotoFileError(f"cannot read {self.photo.path}: {_first_line(err)}") from None

    def read(self, top=0, bottom=None):
        """Rows `top` to `bottom` as one (rows, width, 3) uint8 array."""
        bottom = self.height if bottom is None else bottom
        out = np.empty((max(0, bottom - top), self.width, 3), np.uint8)
        for row, band in self.bands(top, bottom):
            out[row - top : row - top + len(band)] = band
        return out


def _first_line(err):
    text = str(getattr(err, "detail", "") or err).strip()
    return text.splitlines()[-1] if text else type(err).__name__


def _open(path):
    vips = _vips()
    try:
        # Sequential: rows are decoded top to bottom and dropped when read, never the whole image at once.
        image = vips.Image.new_from_file(os.fspath(path), access="sequential", fail=True)
        orientation = image.get("orientation") if image.get_typeof("orientation") else 1
    except vips.Error as err:
        raise PhotoFileError(f"cannot read image {path}: {_first_line(err)}") from None
    if orientation not in (0, 1):
        # A rotated photo needs its rows out of order: let libvips read it as it must.
        image = vips.Image.new_from_file(os.fspath(path), fail=True).autorot()
    return image


def _rgb(image):
    """8-bit RGB, as formats.images.to_rgb makes it: grey spread to three channels, alpha over white."""
    if image.interpretation not in ("srgb", "rgb", "b-w"):
        image = image.colourspace("srgb")
    if image.format != "uchar":
        top = 65535.0 if image.format == "ushort" else 255.0
        image = (image * (255.0 / top) + 0.5).cast("uchar")
    if image.hasalpha():
        image = image.flatten(background=[255] * (image.bands - 1))
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image[:3] if image.bands > 3 else image
