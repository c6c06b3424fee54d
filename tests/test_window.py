"""The preview window, on EGL with no X server and as a real window under Xvfb."""

import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import ROOT, half_planes_image
from PIL import Image
from processes import image_learn

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


def start_run(tmp_path, display, *extra, cycles="0"):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(48)).save(image)
    env = {**os.environ, "DISPLAY": display}
    args = ["-i", image, "-d", "8", "-n", "8", "-c", cycles, "--output_dir", tmp_path / "out", *extra]
    return image_learn(*args, env=env)


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
    with start_run(tmp_path, xvfb) as run:
        run.wait_for(r"^cycle\s+1\b")
        window = find_window(xvfb)
        if how == "escape":
            subprocess.run(
                ["xdotool", "key", "--window", str(window), "Escape"], check=True, env={**os.environ, "DISPLAY": xvfb}
            )
        else:
            close_like_a_window_manager(xvfb, window)
        # How soon it stops is the window's speed, not its behaviour: an epoch of 48x48 pixels takes
        # well under a second, but opening the test's own X connection has taken 25 s inside a
        # loaded test session while the run went on training. The deadline only rules out a hang.
        code, out, err = run.finish(timeout=120)
    assert code == 0, err
    saved = re.search(r"stopped after .* model saved to (\S+)", out).group(1)
    assert checkpoint.load(saved)["cycle"] >= 1


def test_the_window_closes_when_training_ends(tmp_path, xvfb):
    with start_run(tmp_path, xvfb, cycles="3") as run:
        run.wait_for(r"^cycle\s+1\b")
        find_window(xvfb)  # it is there while training runs
        code, out, err = run.finish()  # and the run ends by itself, its window closed
    assert code == 0, err
    assert "finished 3 cycles" in out
    shown = subprocess.run(
        ["xdotool", "search", "--name", "scalefree"],
        capture_output=True,
        text=True,
        env={**os.environ, "DISPLAY": xvfb},
    )
    assert not shown.stdout.strip()


def test_show_draws_a_saved_render_until_escape(tmp_path, xvfb, trained_models):
    env = {**os.environ, "DISPLAY": xvfb}
    with image_learn(
        "--just_image", "-m", trained_models["linear"], "-x", "2", "-o", tmp_path / "r.png", "--show", env=env
    ) as run:
        window = find_window(xvfb)
        subprocess.run(["xdotool", "key", "--window", str(window), "Escape"], check=True, env=env)
        code, out, err = run.finish(timeout=120)
    assert code == 0, err
    assert (tmp_path / "r.png").exists() and "rendered 80x80" in out


def test_with_no_usable_opengl_the_run_goes_on_and_says_why(tmp_path):
    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    # A display that no server answers: the window backend cannot start.
    env = {**os.environ, "DISPLAY": ":987"}
    args = [sys.executable, str(ROOT / "image_learn.py"), "-i", str(image), "-d", "3", "-c", "1"]
    result = subprocess.run(
        [*args, "--output_dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=180, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "no preview window (no usable OpenGL window backend" in result.stdout
    assert re.search(r"^cycle\s+1\b", result.stdout, re.M)


KEYS = textwrap.dedent("""
    import sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from vispy.util import keys
    from scalefree.run.window import GAP, KEYS_HELP, PreviewCanvas, load_app
    app = load_app("glfw")
    target = np.full((30, 40, 3), 200, np.uint8)
    canvas = PreviewCanvas(target, app=app)
    segments = np.array([[20, 0], [20, 30]], np.float32)  # a vertical divider through the middle
    canvas.set_frame(np.full_like(target, 60), "status", segments)

    def shown():
        for _ in range(10):  # the window's loop delivers the resize a key asks for
            app.process_events()
            time.sleep(0.02)
        return canvas.canvas.render()[..., :3]

    def press(text):
        key = keys.Key(text.upper()) if text.isalpha() else keys.Key(text)
        canvas.canvas.events.key_press(key=key, text=text)
        return shown()

    seen = {"start": shown()}
    seen["d"] = press("d")
    seen["d again"] = press("d")
    seen["t"] = press("t")
    seen["t again"] = press("t")
    seen["a"] = press("a")
    seen["a again"] = press("a")
    texts = [canvas.text.text]
    press("h"); texts.append(canvas.text.text)
    press("h"); texts.append(canvas.text.text)
    press("?"); texts.append(canvas.text.text)
    np.savez(sys.argv[2], **{k.replace(" ", "_"): v for k, v in seen.items()})
    print(repr(texts == ["status", KEYS_HELP, "status", KEYS_HELP]), GAP)
""")


def test_the_window_keys_show_dividers_target_approximation_and_help(tmp_path, xvfb):
    # A real window (glfw under Xvfb): the resize that t and a ask for comes back as the window's event.
    env = {**os.environ, "DISPLAY": xvfb}
    got = tmp_path / "keys.npz"
    result = subprocess.run(
        [sys.executable, "-c", KEYS, str(ROOT), str(got)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "True"  # h and ? toggle the list of keys in the status line
    seen = dict(np.load(got))
    start = seen["start"]
    assert start.shape[1] == 2 * 40 + GAP  # target | approximation, side by side
    assert (start[:30, :40] == 200).all() and (start[:30, 40 + GAP :] == 60).all()
    # d: the divider is drawn over the approximation (yellow), and d again hides it.
    lines = seen["d"][:30, 40 + GAP :]
    assert (lines[:, 19:22, 0] > 150).any() and (lines[:, 19:22, 2] < 100).any()
    np.testing.assert_array_equal(seen["d_again"], start)
    # t: the target alone, filling the window; a: the approximation alone; each again: both.
    assert seen["t"].shape[1] == 40 and (seen["t"][:30] == 200).all()
    assert seen["a"].shape[1] == 40 and (seen["a"][:30] == 60).all()
    np.testing.assert_array_equal(seen["t_again"], start)
    np.testing.assert_array_equal(seen["a_again"], start)


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
