import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import scalefree.nn._tensorflow  # noqa: E402,F401  (before anything else loads TensorFlow)
from scalefree.plane.coords import pixel_coords  # noqa: E402

HALF_PLANES = [((-0.3, 0.1), 0.4), ((0.2, -0.2), 2.0), ((0.1, 0.4), 4.0)]
DISCS = [((-0.4, -0.3), 0.35), ((0.35, 0.1), 0.45), ((0.0, 0.5), 0.25)]


def half_planes_image(size=64):
    """Three lines cut the square into regions, each a flat colour."""
    xy = pixel_coords(size, size)
    code = np.zeros(len(xy), int)
    for k, ((cx, cy), theta) in enumerate(HALF_PLANES):
        side = (xy[:, 0] - cx) * np.cos(theta) + (xy[:, 1] - cy) * np.sin(theta) > 0
        code += side << k
    palette = np.random.default_rng(0).integers(30, 226, (8, 3))
    return palette[code].reshape(size, size, 3).astype(np.uint8)


def discs_image(size=64):
    """Three flat discs on a flat background."""
    xy = pixel_coords(size, size)
    img = np.full((len(xy), 3), 240)
    for ((cx, cy), r), colour in zip(DISCS, [(200, 40, 40), (40, 160, 60), (40, 60, 200)]):
        img[np.hypot(xy[:, 0] - cx, xy[:, 1] - cy) < r] = colour
    return img.reshape(size, size, 3).astype(np.uint8)


def run_main(capsys, *args):
    """image_learn's command line in this process: (exit code, stdout, stderr)."""
    from scalefree.cli.commands import image_learn

    code = image_learn(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def half_planes():
    return half_planes_image()


@pytest.fixture
def discs():
    return discs_image()


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory):
    """Checkpoints of a few cycles of 8 lines, circles and relu units on three discs, trained by the command line."""
    from PIL import Image

    from scalefree.cli.commands import image_learn

    folder = tmp_path_factory.mktemp("models")
    image = folder / "discs.png"
    Image.fromarray(discs_image(40)).save(image)
    models = {}
    for kind in ("linear", "circular", "relu"):
        argv = ["-i", str(image), "-t", kind, "-d", "8", "-n", "8", "-c", "2", "-e", "3", "--seed", "0"]
        assert image_learn([*argv, "--output_dir", str(folder), "--no_display"]) == 0
        models[kind] = folder / f"discs_40x40_{kind}_8d_8h.pkl"
    return models
