"""A line or circle model as one self-contained web page that draws it: `--just_image --html`.

The page is the model data file (modeldata.py), inlined, and the viewer
(data/scalefree-image.js) that draws it, with its comments and indentation
left out: the frame fitted to the window, at any size, zoomed and moved
with the mouse, beyond the photo's frame too. `#x=4&b=0.5` in its address
shows the render `--just_image -x 4 -b 0.5 --hard` writes.
"""

import base64
from importlib import resources

from .modeldata import model_data
from .svg import xml_text

VIEWER = "scalefree-image.js"
MINIFIED = "scalefree-image.min.js"  # esbuild's minification of VIEWER (scripts/build_viewer.sh)


def viewer_path(minified=False):
    """Where the viewer is: a plain ES module that defines <scalefree-image> (the source, or minified)."""
    return resources.files("scalefree").joinpath("data", MINIFIED if minified else VIEWER)


def _minified(source):
    # Whole-line comments and indentation go; every statement keeps its own line.
    return "\n".join(line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("//"))


def page(model, about="", title="scalefree", photo=None, max_bytes=None):
    """The page's HTML text, and the model it draws (its data file's), to measure what rounding costs.

    `photo` and `max_bytes` choose the data file's precision (modeldata.model_data).
    """
    data, drawn = model_data(model, photo=photo, max_bytes=max_bytes)
    template = resources.files("scalefree").joinpath("data/viewer.html").read_text("utf-8")
    fields = {
        "@TITLE@": xml_text(title),
        "@ABOUT@": xml_text(about),
        "@DATA@": base64.b64encode(data).decode("ascii"),
        # Inside <script>, "</script" would end it early: the viewer has none, and nothing else goes there.
        "@VIEWER@": viewer_path(minified=True).read_text("utf-8").strip(),
    }
    text = _minified(template)
    for key, value in fields.items():
        text = text.replace(key, value)
    return text, drawn
