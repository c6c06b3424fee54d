"""Large photos: read a band of rows at a time, never whole, and recorded in checkpoints by path and hash.

The threshold is lowered here (LARGE_PIXELS) so that small photos take the
same paths a 100-megapixel one takes; the 100-megapixel figures come from
`python -m bench --cluster`.
"""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

import scalefree
from scalefree.errors import UserError
from scalefree.formats import checkpoint, images, photofile
from scalefree.formats.images import ImageError, open_photo, read_image
from scalefree.formats.photofile import PhotoFile
from scalefree.run import run as run_module


@pytest.fixture
def large(monkeypatch):
    """Photos of more than 1,000 pixels count as large."""
    for module in (photofile, images, run_module):
        monkeypatch.setattr(module, "LARGE_PIXELS", 1000)


def textured(height, width, seed=0):
    """A photo with structure at every scale: smooth gradients, sharp edges and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    picture = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x // 7 + y // 5) % 2 * 200], -1)
    return np.clip(picture + rng.normal(0, 8, picture.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def photo_path(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(textured(90, 120)).save(path)
    return path


def test_a_large_photo_is_a_file_read_a_band_at_a_time_as_pillow_reads_it(large, photo_path):
    photo = open_photo(str(photo_path))
    assert isinstance(photo, PhotoFile) and photo.shape == (90, 120, 3)
    assert photo.sha256 == hashlib.sha256(photo_path.read_bytes()).hexdigest()
    whole = read_image(str(photo_path))
    picture = photo.at_size(90, 120)
    bands = list(picture.bands(10, 77, band_pixels=1000))
    assert [top for top, _ in bands] == [10, 18, 26, 34, 42, 50, 58, 66, 74]  # 1000 px: 8 rows of 120
    np.testing.assert_array_equal(np.concatenate([b for _, b in bands]), whole[10:77])
    # Scaled to the training size: close to Pillow's own resize of the whole photo.
    small = photo.at_size(45, 60).read()
    theirs = np.asarray(Image.fromarray(whole).resize((60, 45), Image.LANCZOS), float)
    assert small.shape == (45, 60, 3) and np.abs(small - theirs).mean() < 6
    assert photo.shrunk(1000).shape[0] * photo.shrunk(1000).shape[1] <= 1100


def test_small_photos_pipes_and_grey_or_alpha_large_ones(large, tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(textured(20, 30)).save(small)
    assert isinstance(open_photo(str(small)), np.ndarray)  # 600 pixels: read whole, as before
    grey = tmp_path / "grey.png"
    Image.fromarray(textured(40, 50)[:, :, 0]).save(grey)
    band = open_photo(str(grey)).at_size(40, 50).read()
    np.testing.assert_array_equal(band, read_image(str(grey)))
    alpha = np.dstack([textured(40, 50), np.full((40, 50), 0, np.uint8)])
    Image.fromarray(alpha).save(tmp_path / "clear.png")
    assert (open_photo(str(tmp_path / "clear.png")).at_size(40, 50).read() == 255).all()  # over white
    broken = tmp_path / "broken.png"
    broken.write_bytes((tmp_path / "grey.png").read_bytes()[:200])
    with pytest.raises(UserError, match=r"cannot read \S*broken.png: vipspng: libpng read error"):
        open_photo(str(broken)).at_size(40, 50).read()


def test_a_checkpoint_records_a_large_photo_by_path_and_hash_and_resuming_checks_it(large, photo_path, tmp_path):
    saved = tmp_path / "big.pkl"
    model = scalefree.fit(str(photo_path), dividers=6, colours=4, cycles=2, downscale=1, checkpoint=str(saved))
    assert isinstance(model.training.image, PhotoFile)
    assert os.path.getsize(saved) < 20_000  # the weights and history; the photo's 32 kB of pixels are not in it
    loaded = checkpoint.read(saved)
    assert loaded.training.image == PhotoFile(str(photo_path), 90, 120, model.training.image.sha256)
    # Goes on from the file, and draws and exports against it.
    again = scalefree.fit(loaded, cycles=1)
    assert again.training.cycle == 3 and again.to_data()[:4] == b"SFIM"
    # The photo changed: one line naming it and how to point at it, from Python and from the command line.
    Image.fromarray(textured(90, 120, seed=1)).save(photo_path)
    with pytest.raises(ImageError, match=r"big.png has changed since it learnt it: give the photo it learnt with -i"):
        scalefree.fit(checkpoint.read(saved), cycles=1)
    cli = [sys.executable, str(ROOT / "image_learn.py"), "-m", str(saved), "-c", "1", "--no_display"]
    result = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "has changed since it learnt it" in result.stderr, result.stderr
    # Moved away: the same, and -i with the photo where it is now resumes.
    moved = tmp_path / "moved.png"
    photo_path.rename(moved)
    result = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "cannot be read (No such file or directory)" in result.stderr, result.stderr
    # Drawing the model needs only the photo's size.
    render = [*cli[:2], "--just_image", "-m", str(saved), "-o", str(tmp_path / "drawn.png")]
    result = subprocess.run(render, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and Image.open(tmp_path / "drawn.png").size == (120, 90), result.stderr
    Image.fromarray(textured(90, 120)).save(moved)
    result = subprocess.run([*cli, "-i", str(moved)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "resuming at cycle 2" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "image, message",
    [
        ({"path": "/x.png", "height": 4, "width": 4}, "neither a picture nor a photo's file"),
        ({"path": 7, "height": 4, "width": 4, "sha256": "0" * 64}, "path is not a file name"),
        ({"path": "/x.png", "height": 0, "width": 4, "sha256": "0" * 64}, "size is not a size in pixels"),
        ({"path": "/x.png", "height": True, "width": 4, "sha256": "0" * 64}, "size is not a size in pixels"),
        ({"path": "/x.png", "height": 1 << 20, "width": 1 << 20, "sha256": "0" * 64}, "more than"),
        ({"path": "/x.png", "height": 4, "width": 4, "sha256": "xyz"}, "SHA-256 is not one"),
    ],
)
def test_a_tampered_photo_record_is_refused_in_one_line(large, photo_path, tmp_path, image, message):
    saved = tmp_path / "big.pkl"
    scalefree.fit(str(photo_path), dividers=4, colours=4, cycles=1, checkpoint=str(saved))
    payload = checkpoint.loads(saved.read_bytes())
    payload["image"] = image
    saved.write_bytes(checkpoint.dumps(payload))
    with pytest.raises(checkpoint.CheckpointError, match=message):
        checkpoint.read(saved)


def test_a_training_picture_too_large_to_hold_is_trained_a_band_at_a_time(large, photo_path, tmp_path):
    from scalefree.run.options import RunOptions
    from scalefree.run.run import Run

    run = Run.open(RunOptions(input_image=str(photo_path), output_dir=str(tmp_path)), {"downscale": 1.0})
    assert isinstance(run.image, PhotoFile) and not run.held
    assert run.size == (90, 120) and run.look.shape[0] * run.look.shape[1] <= 90 * 120
    model = scalefree.fit(str(photo_path), dividers=8, colours=8, cycles=3, downscale=1)
    # Measured against every pixel, streamed: the same figure as against the photo read whole.
    assert model.psnr(read_image(str(photo_path))) == pytest.approx(model.training.history.cycles[-1].psnr, abs=0.05)
