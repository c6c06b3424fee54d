"""The preview window, on EGL with no X server and as a real window under Xvfb."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import ROOT, half_planes_image
from PIL import Image

from scalefree.formats import checkpoint
from scalefree.run.window import GAP, STATUS_HEIGHT, Mailbox, fit_size

EGL_PIXELS = textwrap.dedent("""
    import os, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from scalefree.run.window import GAP, PreviewCanvas, load_app
    app = load_app("egl")
    rng = np.random.default_rng(0)
    target = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    approx = rng.integers(0, 256, (37, 50, 3), dtype=np.uint8)
    canvas = PreviewCanvas(target, app=app)
    canvas.set_frame(approx, "status")
    pixels = canvas.canvas.render()[..., :3]
    np.save(sys.argv[2], np.stack([pixels[:37, :50], pixels[:37, 50 + GAP:100 + GAP]]))
    np.save(sys.argv[3], np.stack([target, approx]))
""")


def test_canvas_shows_exactly_the_images_it_is_handed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["EGL_PLATFORM"] = "surfaceless"
    got, want = tmp_path / "got.npy", tmp_path / "want.npy"
    result = subprocess.run(
        [sys.executable, "-c", EGL_PIXELS, str(ROOT), str(got), str(want)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(got), np.load(want))


FITTED = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from scalefree.run.window import PreviewCanvas, load_app
    app = load_app("egl")
    target = np.full((427, 640, 3), 200, np.uint8)
    canvas = PreviewCanvas(target, app=app, screen=(1280, 800))
    canvas.set_frame(np.full_like(target, 100), "status")
    pixels = canvas.canvas.render()[..., :3]
    np.save(sys.argv[2], pixels)
""")


def test_window_fits_the_screen_with_no_empty_band(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["EGL_PLATFORM"] = "surfaceless"
    got = tmp_path / "got.npy"
    result = subprocess.run(
        [sys.executable, "-c", FITTED, str(ROOT), str(got)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    pixels = np.load(got)
    height, width = pixels.shape[:2]
    assert width <= 1280 * 0.9 and height <= 800 * 0.9
    pictures = pixels[: height - STATUS_HEIGHT]
    # Every row of the picture area shows the pictures: no black band above or below them.
    grey = pictures.astype(int).sum(axis=2)
    assert (grey > 0).mean(axis=1).min() > 0.95


def test_fit_size_keeps_the_aspect_and_never_exceeds_the_screen():
    assert fit_size(100, 50) == (100, 50 + STATUS_HEIGHT)
    assert fit_size(100, 50, (1920, 1080)) == (100, 50 + STATUS_HEIGHT)
    w, h = fit_size(2 * 640 + GAP, 427, (1280, 800))
    assert w <= 1152 and h <= 720
    assert abs(w / (h - STATUS_HEIGHT) - (2 * 640 + GAP) / 427) < 0.01
    w, h = fit_size(400, 3000, (1280, 800))
    assert h <= 720 and abs(w / (h - STATUS_HEIGHT) - 400 / 3000) < 0.01


def test_mailbox_keeps_only_the_newest():
    box = Mailbox()
    assert box.take() is None
    box.put(1)
    box.put(2)
    assert box.take() == 2 and box.take() is None


@pytest.fixture
def xvfb():
    """A private X server; -displayfd avoids the display-number race of xvfb-run."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        display = ":" + f.readline().strip()
    yield display
    proc.terminate()
    proc.wait(timeout=10)


def start_run(tmp_path, display, *extra):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(48)).save(image)
    # Faulthandler: a hung run can be made to print every thread's stack (SIGABRT).
    env = {**os.environ, "DISPLAY": display, "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "image_learn.py"),
            "-i",
            str(image),
            "-d",
            "8",
            "-n",
            "8",
            "-c",
            "0",
            "--output_dir",
            str(tmp_path / "out"),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )


def wait_for_cycle(proc):
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("cycle"):
            return
    raise AssertionError("no cycle line: " + proc.stderr.read())


def find_window(display):
    for _ in range(50):
        found = subprocess.run(
            ["xdotool", "search", "--name", "scalefree"],
            capture_output=True,
            text=True,
            env={**os.environ, "DISPLAY": display},
        )
        if found.stdout.strip():
            return int(found.stdout.split()[0])
        time.sleep(0.2)
    raise AssertionError("window not found")


CLOSE_REQUEST = textwrap.dedent("""
    import sys
    from Xlib import X, display, protocol
    d = display.Display(sys.argv[1])
    window = d.create_resource_object("window", int(sys.argv[2]))
    event = protocol.event.ClientMessage(
        window=window, client_type=d.intern_atom("WM_PROTOCOLS"),
        data=(32, [d.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]))
    window.send_event(event, event_mask=X.NoEventMask)
    d.sync()
""")


def close_like_a_window_manager(display, window_id):
    """Send WM_DELETE_WINDOW, as a window manager does when its close button is clicked."""
    subprocess.run([sys.executable, "-c", CLOSE_REQUEST, display, str(window_id)], check=True, timeout=60)


@pytest.mark.parametrize("how", ["escape", "close"])
def test_window_stop_saves_and_exits_zero(tmp_path, xvfb, how):
    proc = start_run(tmp_path, xvfb)
    try:
        wait_for_cycle(proc)
        window = find_window(xvfb)
        if how == "escape":
            subprocess.run(
                ["xdotool", "key", "--window", str(window), "Escape"], check=True, env={**os.environ, "DISPLAY": xvfb}
            )
        else:
            close_like_a_window_manager(xvfb, window)
        # Timed from delivery: opening the test's own X connection has taken
        # 25 s inside the full test session, while the run went on training.
        asked = time.time()
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate(timeout=30)
            raise AssertionError(f"run did not stop after {how}; its threads:\n{err[-6000:]}") from None
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # An epoch of 48x48 pixels takes well under a second; allow for a loaded machine.
    waited = time.time() - asked
    assert waited < 20, f"{waited:.1f} s after {how}; stdout tail:\n{out[-500:]}"
    saved = re.search(r"stopped after .* model saved to (\S+)", out).group(1)
    assert checkpoint.load(saved)["cycle"] >= 1


def test_without_a_display_the_run_goes_on_and_says_so(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "image_learn.py"),
            "-i",
            str(image),
            "-d",
            "3",
            "-c",
            "2",
            "--output_dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "no preview window (no display)" in result.stdout
    assert len(re.findall(r"^cycle", result.stdout, re.M)) == 2
