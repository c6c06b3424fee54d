"""The partition as an SVG document: one filled path a cell, painted largest first."""

import math
import re

import numpy as np

from ..plane.arrangement import cells

# Width, in pixels of the view, of the stroke that grows the cells under the
# exact ones: it fills an anti-aliasing seam wherever the SVG is shown at its size or larger.
SEAM_STROKE = 1.0


def _number(v):
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _path(walk, points, view):
    def xy(v):
        x, y = points[v]
        return f"{_number((x - view.left) / view.pitch)} {_number((y - view.top) / view.pitch)}"

    parts = [f"M{xy(walk[0].start)}"]
    for e in walk:
        if e.circle is None:
            parts.append(f"L{xy(e.end)}")
            continue
        cx, cy, r = e.circle
        radius = _number(r / view.pitch)
        sweep_flag = 1 if e.sweep > 0 else 0
        if abs(e.sweep) >= 2 * math.pi - 1e-12:
            # One arc command cannot draw a whole circle: go via the far side.
            far = e.angle0 + math.pi
            fx, fy = (cx + r * math.cos(far) - view.left) / view.pitch, (cy + r * math.sin(far) - view.top) / view.pitch
            parts.append(f"A{radius} {radius} 0 0 {sweep_flag} {_number(fx)} {_number(fy)}")
            parts.append(f"A{radius} {radius} 0 0 {sweep_flag} {xy(e.end)}")
            continue
        large = 1 if abs(e.sweep) > math.pi else 0
        parts.append(f"A{radius} {radius} 0 {large} {sweep_flag} {xy(e.end)}")
    return "".join(parts) + "Z"


def svg_document(model, view, description=""):
    """A model's partition in `view` as an SVG document: one filled path a cell, painted largest first.

    Returns (the document's text, the number of cells).
    """
    found, points = cells(model.dividers, view)
    signs = np.reshape([c.signs for c in found], (len(found), model.n_dividers))
    layers = model.colour_layers
    colours = layers.paint(layers.hidden(signs))
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{view.width_px}" height="{view.height_px}" viewBox="0 0 {view.width_px} {view.height_px}">',
    ]
    if description:
        out.append(f"<desc>{xml_text(description)}</desc>")
    # Cells that share an edge, each anti-aliased on its own, let the
    # background show through a hairline between them. Crisp edges stop that
    # where a renderer honours them (browsers, librsvg, Cairo); for those that
    # do not (Inkscape), the cells are drawn first grown by a stroke of their
    # own colour, a clone the exact cells then cover everywhere but in those
    # hairlines. The clone follows edits made to the cells.
    out.append('<g shape-rendering="crispEdges" stroke-linejoin="round">')
    out.append(f'<use xlink:href="#cells" stroke-width="{SEAM_STROKE:g}"/>')
    out.append('<g stroke-width="0"><g id="cells">')
    for cell, (r, g, b) in zip(found, colours):
        colour = f"#{r:02x}{g:02x}{b:02x}"
        out.append(f'<path fill="{colour}" stroke="{colour}" d="{_path(cell.edges, points, view)}"/>')
    out += ["</g></g>", "</g>", "</svg>", ""]
    return "\n".join(out), len(found)


# Characters XML 1.0 forbids in a document, even escaped: controls other than
# tab, newline and return; lone surrogates (a file name's bytes that are not
# UTF-8); and the two non-characters U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text):
    """`text` made safe for an XML document's text: escaped, and characters XML forbids replaced."""
    text = _NOT_XML.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
