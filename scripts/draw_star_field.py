"""Draws assets/stars.png: a dark field of many small bright spots, as a deep-sky photograph shows them.

The kind of picture where every tool of the field does worst: most of the
error sits in a few hundred tiny round spots on a near-black ground, with a
faint glow of nebula behind them. Made here from a fixed seed (so it is ours
to give away, CC0): stars with a power-law brightness (many faint, a few
bright), Gaussian point-spread profiles a little wider for brighter stars,
colours from red to blue as stars have them, a few bright ones with halos,
and a soft two-colour glow.

    python scripts/draw_star_field.py
"""

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (256, 192)  # width, height
STARS = 400
SEED = 2026


def draw(size=SIZE, stars=STARS, seed=SEED):
    """The star field as an (h, w, 3) uint8 array."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    # The glow: two broad blobs of nebula, reddish and bluish, over a ground just above black.
    sky = np.full((h, w, 3), [0.02, 0.02, 0.035])
    glows = (([0.22, 0.06, 0.10], (0.3, 0.6, 0.22)), ([0.05, 0.10, 0.22], (0.7, 0.35, 0.18)))
    for colour, (cx, cy, spread) in glows:
        blob = np.exp(-(((x / w - cx) ** 2 + (y / h - cy) ** 2) / (2 * spread**2)))
        sky += blob[..., None] * np.asarray(colour)
    # Stars: brightness from a power law, colour by temperature (red through white to blue).
    brightness = np.minimum(rng.pareto(1.4, stars) * 0.08 + 0.05, 1.6)
    temperature = rng.uniform(0, 1, stars)
    tints = np.stack([1.0 - 0.35 * temperature, 0.85 + 0.1 * np.sin(np.pi * temperature), 0.65 + 0.35 * temperature], 1)
    for (cx, cy), b, tint in zip(rng.uniform([0, 0], [w, h], (stars, 2)), brightness, tints):
        sigma = 0.45 + 0.9 * b
        reach = int(np.ceil(4 * sigma + (6 if b > 0.8 else 0)))
        x0, x1 = max(0, int(cx) - reach), min(w, int(cx) + reach + 1)
        y0, y1 = max(0, int(cy) - reach), min(h, int(cy) + reach + 1)
        d2 = (x[y0:y1, x0:x1] - cx) ** 2 + (y[y0:y1, x0:x1] - cy) ** 2
        profile = b * np.exp(-d2 / (2 * sigma**2))
        if b > 0.8:  # the brightest have a faint halo
            profile += 0.08 * b * np.exp(-d2 / (2 * (3 * sigma) ** 2))
        sky[y0:y1, x0:x1] += profile[..., None] * tint
    return np.clip(sky * 255 + 0.5, 0, 255).astype(np.uint8)


if __name__ == "__main__":
    path = Path(__file__).resolve().parent.parent / "assets" / "stars.png"
    Image.fromarray(draw()).save(path, optimize=True)
    print(f"wrote {path}")
