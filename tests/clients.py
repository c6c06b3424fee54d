"""The programs people open our outputs with, driven from the tests: Chromium, Inkscape, rsvg-convert, ffprobe.

`bash scripts/setup.sh --dev` installs them (Debian's chromium, inkscape,
librsvg2-bin and ffmpeg). Each runs headless, in a temporary profile, with
no network.
"""

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image

# As root with no GPU, no D-Bus and a closed network: no sandbox, software
# drawing, and none of the background fetches that would only time out.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--allow-file-access-from-files",
]


def need(program):
    """The program's path; a missing one fails the test (the dev set-up installs it), never skips it."""
    path = shutil.which(program)
    assert path, f"{program} is not installed: run bash scripts/setup.sh --dev"
    return path


def chromium(*args, timeout=120):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [need("chromium"), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def address(page):
    """A page's address: an http(s) URL as it is, a file as a file: URL."""
    page = str(page)
    return page if page.startswith(("http://", "https://")) else Path(page).resolve().as_uri()


@contextlib.contextmanager
def served(folder):
    """An HTTP server on this machine for `folder`, as a site serves files; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def page_text(page, element="out", budget_ms=10000):
    """The text a page leaves in its element `element` once its scripts have run (as JSON when it parses)."""
    result = chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", address(page))
    match = re.search(rf'<pre id="{element}">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no #{element} in the page Chromium drew: {result.stderr[-2000:]}"
    text = match.group(1)
    try:
        return json.loads(text)
    except ValueError:
        return text


def screenshot(page, width, height, fragment=""):
    """The top-left width x height of Chromium's picture of a page (at `#fragment`), as (height, width, 3) uint8.

    Headless Chromium lays out small windows at a larger size and scales the
    shot down, so the window is at least 800x600 and the shot is cropped.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "shot.png")
        result = chromium(
            f"--window-size={max(width, 800)},{max(height, 600)}",
            f"--screenshot={out}",
            "--virtual-time-budget=10000",
            address(page) + fragment,
        )
        assert os.path.exists(out), result.stderr[-2000:]
        return read_rgb(out)[:height, :width]


def image_page(folder, image, width, height):
    """A page that shows one image (an SVG, say) at width x height from its top-left corner."""
    page = Path(folder) / "show.html"
    page.write_text(
        f'<!doctype html><html><body style="margin:0;background:#fff">'
        f'<img src="{Path(image).resolve().as_uri()}" width="{width}" height="{height}" '
        f'style="display:block"></body></html>'
    )
    return page


def inkscape_png(svg, width, height):
    """Inkscape's raster of an SVG at width x height."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.png")
        env = {**os.environ, "HOME": tmp, "XDG_CONFIG_HOME": tmp}  # a fresh profile, nothing remembered
        result = subprocess.run(
            [
                need("inkscape"),
                "--export-type=png",
                f"--export-filename={out}",
                f"--export-width={width}",
                f"--export-height={height}",
                "--export-background=white",
                "--export-background-opacity=1",
                str(svg),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert os.path.exists(out), result.stderr[-2000:]
        return read_rgb(out)


def rsvg_png(svg, width, height):
    """librsvg's raster of an SVG at width x height."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.png")
        subprocess.run(
            [need("rsvg-convert"), "-w", str(width), "-h", str(height), "-b", "white", "-o", out, str(svg)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return read_rgb(out)


def video_stream(path):
    """ffprobe's view of a video's first stream: codec_name, width, height, pix_fmt, and the duration."""
    result = subprocess.run(
        [
            need("ffprobe"),
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,pix_fmt:format=duration",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    probed = json.loads(result.stdout)
    return {**probed["streams"][0], "duration": float(probed["format"]["duration"])}


def read_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def agreement(drawn, hard, tolerance=8):
    """How closely a client's raster matches our hard render: (PSNR in dB over every pixel, share of pixels off).

    A pixel is off when a channel lies more than `tolerance` outside the
    range of the hard render's colours in its 3x3 neighbourhood. An edge
    anti-aliased between two regions stays inside that range; a seam of
    background between them, a wrong colour or a missing region does not.
    """
    assert drawn.shape == hard.shape, (drawn.shape, hard.shape)
    h, w = hard.shape[:2]
    padded = np.pad(hard.astype(int), ((1, 1), (1, 1), (0, 0)), mode="edge")
    windows = [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]
    low, high = np.min(windows, axis=0), np.max(windows, axis=0)
    d = drawn.astype(int)
    off = ((d < low - tolerance) | (d > high + tolerance)).any(axis=2)
    mse = np.mean((d - hard.astype(int)) ** 2)
    psnr = float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)
    return psnr, float(off.mean())
