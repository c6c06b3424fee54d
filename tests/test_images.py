import numpy as np
import pytest
from PIL import Image

from scalefree.images import ImageError, downscale, read_image, write_image


def save(tmp_path, name, im):
    path = tmp_path / name
    im.save(path)
    return str(path)


def test_grey_image_becomes_rgb(tmp_path):
    img = read_image(save(tmp_path, "g.png", Image.new("L", (5, 4), 77)))
    assert img.shape == (4, 5, 3) and img.dtype == np.uint8 and (img == 77).all()


def test_rgba_is_composited_over_white(tmp_path):
    im = Image.new("RGBA", (3, 3), (0, 0, 0, 0))
    im.putpixel((0, 0), (10, 20, 30, 255))
    img = read_image(save(tmp_path, "a.png", im))
    assert tuple(img[0, 0]) == (10, 20, 30) and tuple(img[2, 2]) == (255, 255, 255)


def test_palette_image(tmp_path):
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    assert tuple(read_image(save(tmp_path, "p.png", im))[1, 1]) == (200, 100, 50)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 32768, 65535]], dtype=np.uint16)
    img = read_image(save(tmp_path, "s.png", Image.fromarray(values)))
    assert list(img[0, :, 0]) == [0, 128, 255]


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_images_are_clean_errors(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError):
        read_image(str(path))


def test_truncated_jpeg_is_a_clean_error(tmp_path):
    path = tmp_path / "t.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageError):
        read_image(str(path))


def test_missing_image():
    with pytest.raises(ImageError, match="not found"):
        read_image("/no/such/file.png")


def test_downscale_and_write(tmp_path):
    img = np.zeros((40, 60, 3), np.uint8)
    small = downscale(img, 2)
    assert small.shape == (20, 30, 3)
    out = tmp_path / "sub" / "x.png"
    write_image(small, str(out))
    assert read_image(str(out)).shape == (20, 30, 3)
    with pytest.raises(ImageError, match="extension"):
        write_image(small, str(tmp_path / "x.nope"))
