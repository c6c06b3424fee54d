"""Draws assets/poster.png: a flat graphic (a few shapes in flat colours) for the quality benchmark.

The bundled photos are a portrait, a still life, an animal's fur and a
landscape; this adds the fourth kind a user may bring, flat colours with
crisp edges. Made here, so it is ours to give away (CC0).

    python scripts/draw_poster.py
"""

from pathlib import Path

from PIL import Image, ImageDraw

SIZE = (256, 192)
SUPERSAMPLE = 4


def draw():
    w, h = SIZE[0] * SUPERSAMPLE, SIZE[1] * SUPERSAMPLE
    image = Image.new("RGB", (w, h), (244, 226, 196))
    d = ImageDraw.Draw(image)

    def s(*points):
        return [tuple(v * SUPERSAMPLE for v in p) for p in points]

    d.ellipse(s((150, 22), (214, 86)), fill=(235, 94, 40))
    d.polygon(s((0, 150), (70, 70), (130, 132), (180, 96), (256, 160), (256, 192), (0, 192)), fill=(52, 84, 122))
    d.polygon(s((0, 170), (90, 120), (160, 165), (256, 140), (256, 192), (0, 192)), fill=(28, 48, 80))
    d.polygon(s((70, 70), (86, 86), (74, 84), (62, 92), (56, 84)), fill=(250, 250, 245))
    d.rectangle(s((18, 24), (108, 34)), fill=(28, 48, 80))
    d.rectangle(s((18, 40), (80, 46)), fill=(235, 94, 40))
    d.ellipse(s((196, 150), (236, 190)), fill=(244, 200, 60))
    return image.resize(SIZE, Image.LANCZOS)


if __name__ == "__main__":
    path = Path(__file__).resolve().parent.parent / "assets" / "poster.png"
    draw().save(path)
    print(f"wrote {path}")
