"""The live preview: the target and the current approximation side by side.

The window only shows what it is handed. Training runs in a worker thread
that never touches OpenGL and never waits for the window: it drops each
finished frame into a one-slot mailbox, replacing any frame not yet shown.
The main thread runs a small event loop of its own (VisPy's app.run busy-loops
on some backends) and closes the window from the loop, never from inside a
key or close callback, which crashed glfw.

Keys: ESC stops (finish the epoch, save, exit), d shows the dividers, t
toggles between both images and the target alone at full size, a the
approximation alone, h or ? shows the keys.
"""

import os
import sys
import threading
import time

import numpy as np

FRAME_SECONDS = 1 / 60
GAP = 8  # pixels between the two images
STATUS_HEIGHT = 24
KEYS_HELP = "ESC stop and save | d dividers | t target | a approximation | h keys"
# Share of the screen the window may take at most, leaving room for its frame and the desktop's panels.
SCREEN_SHARE = 0.9


class NoWindow(RuntimeError):
    """No screen or no usable OpenGL backend; the run goes on without a window."""


def load_app(backend=None):
    if (
        sys.platform.startswith("linux")
        and backend in (None, "glfw", "pyqt6", "pyside6")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise NoWindow("no display")
    try:
        from vispy import app

        chosen = app.use_app(backend)
        # The backend starts lazily: a display that no server answers fails only here.
        chosen.native  # noqa: B018
        return chosen
    except Exception as err:  # vispy raises several kinds when no backend loads
        reason = " ".join(f"{type(err).__name__}: {err}".split())
        raise NoWindow(f"no usable OpenGL window backend ({reason})") from None


def app_or_none(log):
    """The VisPy app for a preview window, or None (with a notice) when there can be none."""
    try:
        return load_app()
    except NoWindow as err:
        log(f"no preview window ({err}); going on without it")
        return None


def screen_size(app):
    """(width, height) of the usable screen where the backend can tell, else None."""
    try:
        name = app.backend_name.lower()
        if "glfw" in name:
            import glfw

            monitor = glfw.get_primary_monitor()
            if monitor:
                _, _, w, h = glfw.get_monitor_workarea(monitor)
                return (w, h) if w > 0 and h > 0 else None
        elif "qt" in name or "pyside" in name:
            screen = app.native.primaryScreen()
            if screen is not None:
                area = screen.availableGeometry()
                return area.width(), area.height()
    except Exception:  # a backend that cannot say: size by the content alone
        return None
    return None


def fit_size(content_w, content_h, screen=None, status=STATUS_HEIGHT):
    """The canvas size that shows `content` whole with no empty band, within the screen.

    The pictures keep their aspect ratio; a window that would be larger than
    SCREEN_SHARE of the screen shows them smaller.
    """
    scale = 1.0
    if screen is not None:
        room_w, room_h = screen[0] * SCREEN_SHARE, screen[1] * SCREEN_SHARE - status
        scale = min(1.0, room_w / content_w, max(room_h, 1) / content_h)
    return max(1, round(content_w * scale)), max(1, round(content_h * scale)) + status


class Mailbox:
    """Holds the newest item only; putting never blocks."""

    def __init__(self):
        self._lock = threading.Lock()
        self._item = None

    def put(self, item):
        with self._lock:
            self._item = item

    def take(self):
        with self._lock:
            item, self._item = self._item, None
        return item


class PreviewCanvas:
    """A VisPy canvas showing target | approximation, a status line and the dividers."""

    def __init__(self, target, title="scalefree", app=None, show=True, stop_event=None, screen=None):
        from vispy import scene

        self.target = np.ascontiguousarray(target)
        self.h, self.w = self.target.shape[:2]
        # Set straight from the key and close callbacks, so that the worker
        # sees a stop even while the main thread is busy inside VisPy.
        self.stop_requested = stop_event or threading.Event()
        self.closed = False
        self.mode = "both"
        self._status = "starting  |  h: keys"
        self._show_help = False
        self._dividers = None
        self._lines_on = False
        self.screen = screen
        size = fit_size(*self._content_size(), screen)
        # Qt draws during show=True before a subclass is ready: show afterwards.
        self.canvas = scene.SceneCanvas(title=title, size=size, app=app, show=False, keys=None, bgcolor="black")
        grid = self.canvas.central_widget.add_grid(spacing=0)
        self.view = grid.add_view(row=0, col=0, border_width=0)
        self.view.camera = scene.PanZoomCamera(aspect=1, interactive=False)
        self.view.camera.flip = (False, True, False)
        self.text = scene.visuals.Text("", color="white", font_size=9, anchor_x="left", anchor_y="center")
        status_box = grid.add_view(row=1, col=0, border_width=0)
        status_box.height_max = STATUS_HEIGHT
        status_box.add(self.text)
        self.text.pos = (6, STATUS_HEIGHT / 2)
        self.status_box = status_box
        self.target_image = scene.visuals.Image(self.target, parent=self.view.scene, interpolation="nearest")
        self.approx_image = scene.visuals.Image(
            np.zeros_like(self.target), parent=self.view.scene, interpolation="nearest"
        )
        self.lines = scene.visuals.Line(
            pos=np.zeros((2, 2), np.float32), connect="segments", color=(1, 1, 0, 0.7), parent=self.view.scene
        )
        self.lines.visible = False
        self._place()
        self.canvas.events.key_press.connect(self._on_key)
        self.canvas.events.close.connect(self._on_close)
        if show:
            self.canvas.show()

    def _content_size(self):
        width = 2 * self.w + GAP if self.mode == "both" else self.w
        return width, self.h

    def _place(self):
        from vispy.visuals.transforms import STTransform

        offset = {"both": self.w + GAP, "target": 0, "approximation": 0}[self.mode]
        self.approx_image.transform = STTransform(translate=(offset, 0))
        self.lines.transform = STTransform(translate=(offset, 0, -1))
        self.target_image.visible = self.mode in ("both", "target")
        self.approx_image.visible = self.mode in ("both", "approximation")
        width, height = self._content_size()
        size = fit_size(width, height, self.screen)
        if tuple(self.canvas.size) != size:
            self.canvas.size = size
        self.view.camera.set_range(x=(0, width), y=(0, height), margin=0)
        self.lines.visible = self._dividers is not None and self.mode != "target" and self._lines_on
        self._refresh_text()

    def _refresh_text(self):
        self.text.text = KEYS_HELP if self._show_help else self._status

    def _on_key(self, event):
        # Only flags and visuals here: closing from inside a callback crashed glfw.
        key = (event.key.name if event.key is not None else "").lower()
        text = event.text or ""
        if key == "escape":
            self.stop_requested.set()
        elif text == "d":
            self._lines_on = not self._lines_on
            self._place()
        elif text == "t":
            self.mode = "both" if self.mode == "target" else "target"
            self._place()
        elif text == "a":
            self.mode = "both" if self.mode == "approximation" else "approximation"
            self._place()
        elif text in ("h", "?"):
            self._show_help = not self._show_help
            self._refresh_text()
        self.canvas.update()

    def _on_close(self, event):
        self.closed = True
        self.stop_requested.set()

    def set_frame(self, image, status=None, dividers=None):
        """Show a new approximation (uint8, the target's shape) and status line."""
        self.approx_image.set_data(np.ascontiguousarray(image))
        if status is not None:
            self._status = status
        if dividers is not None:
            self._dividers = dividers
            self.lines.set_data(pos=dividers if len(dividers) else np.zeros((2, 2), np.float32))
        self._place()
        self.canvas.update()

    def close(self):
        if not self.closed:
            self.closed = True
            self.canvas.close()


def status_line(result):
    return (
        f"cycle {result.cycle}  loss {result.loss:.5f}  PSNR {result.psnr:.2f} dB  "
        f"{result.pixels_per_second / 1e6:.2f} Mpx/s  {result.seconds:.2f} s/cycle  |  h: keys"
    )


def run_with_window(target, work, stop_event, mailbox, title, app):
    """Show frames from `mailbox` while `work()` runs in a worker thread.

    ESC or closing the window sets `stop_event`; the worker is expected to
    notice, save and return. Returns what `work` returned; re-raises its error.
    """
    outcome = {}

    def worker():
        try:
            outcome["value"] = work()
        except BaseException as err:  # handed to the main thread
            outcome["error"] = err

    canvas = PreviewCanvas(target, title=title, app=app, stop_event=stop_event, screen=screen_size(app))
    thread = threading.Thread(target=worker, name="scalefree-training", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            app.process_events()
            item = mailbox.take()
            if item is not None and not canvas.closed:
                canvas.set_frame(*item)
            time.sleep(FRAME_SECONDS)
    except KeyboardInterrupt:
        stop_event.set()
        thread.join()
    finally:
        canvas.close()
        app.process_events()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def show_until_closed(target, image, title, app):
    """Show a finished render beside its target until ESC or the window is closed."""
    canvas = PreviewCanvas(
        target if target.shape == image.shape else image, title=title, app=app, screen=screen_size(app)
    )
    canvas.mode = "both" if target.shape == image.shape else "approximation"
    canvas.set_frame(image, "rendered; ESC or close the window to quit")
    try:
        while not canvas.stop_requested.is_set():
            app.process_events()
            time.sleep(FRAME_SECONDS)
    finally:
        canvas.close()
        app.process_events()
