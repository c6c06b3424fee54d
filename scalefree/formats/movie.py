"""Frames saved by a training run -> a video (.mp4, .webm, .avi through OpenCV; .gif through Pillow)."""

import io
import json
import os
import re
import struct
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import UserError
from ..native import captured_stderr
from .atomic import atomic_path
from .images import ImageError, read_image
from .paths import FRAMES_METADATA

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Per container, the codecs tried in turn (FourCC, name): the first that OpenCV's
# FFmpeg opens is used. Browsers play H.264 and VP9 in .mp4 and VP9 in .webm;
# MPEG-4 Part 2 is a last resort that most browsers and chat apps refuse.
VIDEO_CODECS = {
    ".mp4": (("avc1", "H.264"), ("vp09", "VP9"), ("mp4v", "MPEG-4 Part 2")),
    ".webm": (("VP90", "VP9"), ("VP80", "VP8")),
    ".avi": (("MJPG", "Motion JPEG"),),
}
PLAYS_IN_BROWSERS = {"H.264", "VP9", "VP8"}
CONTAINERS = tuple(VIDEO_CODECS) + (".gif",)
TITLE_SECONDS = 1.5


class MovieError(UserError):
    pass


@dataclass
class Frame:
    path: str
    cycle: int
    meta: dict = field(default_factory=dict)

    def caption(self, label=None):
        parts = [label] if label else []
        p = self.meta.get("parameters", {})
        if p:
            parts.append(f"{p.get('n_dividers')} {p.get('type')}")
        parts.append(f"cycle {self.cycle}")
        if "psnr" in self.meta:
            parts.append(f"PSNR {self.meta['psnr']:.2f} dB")
        return "   ".join(parts)


def _number_in(name):
    numbers = re.findall(r"\d+", os.path.splitext(name)[0])
    return int(numbers[-1]) if numbers else -1


def _frame_record(line):
    """A frames.jsonl line as a record with a file name and (if any) an integer cycle, else None."""
    try:
        record = json.loads(line.decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError: a line cut short, or not ours
        return None
    if not isinstance(record, dict) or not isinstance(record.get("file"), str):
        return None
    cycle = record.get("cycle", 0)
    if not isinstance(cycle, int) or isinstance(cycle, bool):
        return None
    return record


def collect_frames(folder, warn=print):
    """The frames of a folder in cycle order, with their metadata where it exists."""
    if not os.path.isdir(folder):
        raise MovieError(f"no such folder: {folder}")
    meta = {}
    meta_path = os.path.join(folder, FRAMES_METADATA)
    if os.path.exists(meta_path):
        skipped = 0
        with open(meta_path, "rb") as f:
            for line in f:
                record = _frame_record(line)
                if record is None:
                    skipped += line.strip() != b""
                else:
                    meta[record["file"]] = record
        if skipped:
            warn(
                f"warning: skipped {skipped} line{'s' if skipped > 1 else ''} of {meta_path} that "
                f"{'are' if skipped > 1 else 'is'} not a frame record; those frames are ordered by name"
            )
    frames = [
        Frame(os.path.join(folder, name), int(meta.get(name, {}).get("cycle", _number_in(name))), meta.get(name, {}))
        for name in os.listdir(folder)
        if name.lower().endswith(FRAME_EXTENSIONS)
    ]
    if not frames:
        raise MovieError(f"no frames ({', '.join(FRAME_EXTENSIONS)}) in {folder}")
    # Numeric order: 'cycle-10' after 'cycle-9' even when names are not zero-padded.
    return sorted(frames, key=lambda fr: (fr.cycle, fr.path))


def read_frame(path):
    try:
        return read_image(path)
    except ImageError as err:
        raise MovieError(f"cannot read frame {path}: {err}") from None


def parse_size(text):
    m = re.fullmatch(r"(\d+)[xX](\d+)", text or "")
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise MovieError(f"--size wants WIDTHxHEIGHT, e.g. 640x480, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _font(height):
    try:
        return ImageFont.load_default(size=max(8, int(height)))
    except TypeError:  # Pillow before 10.1 has one fixed-size default font
        return ImageFont.load_default()


def with_caption(image, text):
    """The image with a dark bar under it holding `text`."""
    h, w = image.shape[:2]
    bar = max(14, h // 14)
    out = Image.new("RGB", (w, h + bar), (16, 16, 16))
    out.paste(Image.fromarray(image), (0, 0))
    draw = ImageDraw.Draw(out)
    font = _font(bar * 0.6)
    draw.text((bar // 3, h + bar // 2), text, fill=(235, 235, 235), font=font, anchor="lm")
    return np.asarray(out)


def title_card(text, size):
    w, h = size
    card = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.text((w // 2, h // 2), text, fill=(255, 255, 255), font=_font(max(10, h // 12)), anchor="mm")
    return np.asarray(card)


def fit(image, size):
    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.LANCZOS))


@dataclass
class MovieOptions:
    fps: float = 25.0
    hold_first: float = 0.0
    hold_last: float = 1.0
    size: tuple | None = None
    scale: float | None = None
    caption: bool = False
    title: str | None = None
    grid: bool = False


def _frame_size(first, options):
    h, w = first.shape[:2]
    if options.size:
        return options.size
    if options.scale:
        return max(2, round(w * options.scale)), max(2, round(h * options.scale))
    return w, h


def _grid_layout(n):
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def plan(folders, options, warn=print):
    """The sequence of (source, caption) steps; a source is one frame or a row of them."""
    runs = [collect_frames(f, warn) for f in folders]
    labels = [os.path.basename(os.path.normpath(f)) for f in folders] if len(folders) > 1 else [None]
    steps = []
    if options.grid:
        for i in range(max(len(r) for r in runs)):
            # Shorter runs hold their last frame so every cell stays in step.
            row = [r[min(i, len(r) - 1)] for r in runs]
            steps.append((row, f"cycle {row[0].cycle}"))
    else:
        for run, label in zip(runs, labels):
            steps.extend(([fr], fr.caption(label)) for fr in run)
    return steps


def _gif_image_block(picture):
    """One frame as GIF bytes: image descriptor with its palette as a local colour table, then its data.

    Pillow encodes the frame as a whole one-frame GIF; its palette (the
    global table there) becomes the frame's own table here.
    """
    buffer = io.BytesIO()
    picture.save(buffer, format="GIF")
    data = buffer.getvalue()
    (packed,) = struct.unpack("<B", data[10:11])
    pos = 13
    table = b""
    if packed & 0x80:
        table = data[pos : pos + 3 * 2 ** ((packed & 7) + 1)]
        pos += len(table)
    while data[pos] == 0x21:  # extensions: skipped, the writer adds its own
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise MovieError("Pillow wrote a GIF frame this writer cannot read")
    descriptor = bytearray(data[pos : pos + 10])
    pos += 10
    if table and not descriptor[9] & 0x80:
        descriptor[9] |= 0x80 | (packed & 7)
    else:
        table = b""
    start = pos
    pos += 1  # LZW minimum code size
    while data[pos]:
        pos += data[pos] + 1
    return bytes(descriptor) + table + data[start : pos + 1]


class _GifWriter:
    """A looping GIF written frame by frame: only the frame being held is kept in memory.

    A frame that repeats the one before (holds, a model that stopped
    changing) lengthens that frame's delay instead of being stored again.
    """

    def __init__(self, path, fps, size):
        self.file = open(path, "wb")  # noqa: SIM115 (closed by close(), which the writer's user calls)
        self.fps = fps
        self.held, self.times, self.written, self.shown = None, 0, 0, 0.0
        w, h = size
        self.file.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0x70, 0, 0))
        self.file.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever

    def add(self, image):
        if self.held is not None and np.array_equal(image, self.held):
            self.times += 1
            return
        self._flush()
        self.held, self.times = image.copy(), 1

    def _flush(self):
        if self.held is None:
            return
        # Delays are in hundredths of a second; rounding is carried so the total stays right.
        end = self.shown + self.times * 100 / self.fps
        delay = max(1, round(end) - round(self.shown))
        self.shown = end
        picture = Image.fromarray(self.held).convert("P", palette=Image.Palette.ADAPTIVE)
        self.file.write(b"\x21\xf9\x04\x04" + struct.pack("<H", delay) + b"\x00\x00")
        self.file.write(_gif_image_block(picture))
        self.written += 1

    def close(self):
        self._flush()
        self.file.write(b";")
        self.file.close()
        return self.written


@dataclass
class Movie:
    """What was written: frames the file holds, (width, height), seconds it plays, codec."""

    frames: int
    size: tuple
    seconds: float
    codec: str


def even_size(size):
    """Video codecs store 4:2:0 colour, so OpenCV drops an odd last row or column: round up instead."""
    w, h = size
    return w + w % 2, h + h % 2


def pad_to(image, size):
    """The image grown to `size` (width, height) by repeating its last row and column."""
    w, h = size
    if image.shape[:2] == (h, w):
        return image
    return np.pad(image, ((0, h - image.shape[0]), (0, w - image.shape[1]), (0, 0)), mode="edge")


def _open_video(path, ext, fps, size):
    """An OpenCV writer for the first of the container's codecs that opens, and that codec's name."""
    import cv2

    for fourcc, name in VIDEO_CODECS[ext]:
        # FFmpeg prints a line for every codec it lacks or remaps; the choice is reported instead.
        with captured_stderr():
            video = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if video.isOpened():
            return video, name
        video.release()
    names = ", ".join(name for _, name in VIDEO_CODECS[ext])
    raise MovieError(f"OpenCV cannot write {ext} video here (tried {names}); try .gif")


class _Writer:
    """Frames in, a video file out: the container comes from the extension, the codec from what opens."""

    def __init__(self, path, fps, size):
        self.ext = os.path.splitext(path)[1].lower()
        self.path, self.fps, self.size = path, fps, size
        self.video, self.codec = None, "GIF"

    def open(self, tmp):
        if self.ext in VIDEO_CODECS:
            self.video, self.codec = _open_video(tmp, self.ext, self.fps, self.size)
        else:
            self.video = _GifWriter(tmp, self.fps, self.size)

    def add(self, image):
        if isinstance(self.video, _GifWriter):
            self.video.add(image)
        else:
            self.video.write(np.ascontiguousarray(pad_to(image, self.size)[:, :, ::-1]))

    def close(self, added):
        """Finish the file; return how many frames it holds."""
        if isinstance(self.video, _GifWriter):
            return self.video.close()
        self.video.release()
        return added


def make_movie(folders, output, options, warn=print, progress=None):
    """Write the movie; return a Movie saying what was written.

    A GIF holds fewer frames than were added when some repeat (holds, a
    model that stopped changing): they are stored once, for longer.
    """
    ext = os.path.splitext(output)[1].lower()
    if ext not in CONTAINERS:
        raise MovieError(f"unknown video extension {ext or '(none)'!r}: use {', '.join(CONTAINERS)}")
    if options.fps <= 0:
        raise MovieError(f"--fps must be greater than 0, got {options.fps:g}")
    steps = plan(folders, options, warn)
    rows, cols = _grid_layout(len(steps[0][0])) if options.grid else (1, 1)
    first_cell = read_frame(steps[0][0][0].path)
    cell = _frame_size(first_cell, options)
    cell_shape = (first_cell.shape[1], first_cell.shape[0])
    warned = set()

    def compose(step):
        sources, caption = step
        cells = []
        for fr in sources:
            img = read_frame(fr.path)
            if (img.shape[1], img.shape[0]) != cell_shape and fr.path not in warned:
                warned.add(fr.path)
                warn(
                    f"warning: {fr.path} is {img.shape[1]}x{img.shape[0]}, not {cell_shape[0]}x{cell_shape[1]}; resized"
                )
            cells.append(fit(img, cell))
        while len(cells) < rows * cols:
            cells.append(np.zeros_like(cells[0]))
        image = np.concatenate([np.concatenate(cells[r * cols : (r + 1) * cols], axis=1) for r in range(rows)])
        return with_caption(image, caption) if options.caption else image

    first = compose(steps[0])
    size = (first.shape[1], first.shape[0])
    if ext in VIDEO_CODECS and even_size(size) != size:
        size = even_size(size)
        warn(
            f"note: frames are {first.shape[1]}x{first.shape[0]}; video codecs need even sizes, so the "
            f"video is {size[0]}x{size[1]}, its last row or column repeated"
        )
    holds_first = round(options.hold_first * options.fps)
    holds_last = round(options.hold_last * options.fps)
    title_frames = round(TITLE_SECONDS * options.fps) if options.title else 0
    writer = _Writer(output, options.fps, size)
    with atomic_path(output) as tmp:
        writer.open(tmp)
        done = 0

        def emit(image, times=1):
            nonlocal done
            for _ in range(times):
                writer.add(image)
            done += times
            if progress:
                progress(times)

        if options.title:
            emit(title_card(options.title, size), title_frames)
        image = first
        emit(image, holds_first + 1)
        for step in steps[1:]:
            image = compose(step)
            emit(image)
        emit(image, holds_last)
        written = writer.close(done)
    if ext in VIDEO_CODECS and writer.codec not in PLAYS_IN_BROWSERS:
        warn(
            f"warning: this OpenCV has no browser codec for {ext}; wrote {writer.codec}, which most "
            f"browsers do not play (.webm or .gif do)"
        )
    return Movie(written, size, done / options.fps, writer.codec)
