import numpy as np
import pytest
from PIL import Image

from scalefree.formats.images import ImageError, read_image, write_image
from scalefree.plane.pictures import downscale


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


def bomb_png(path, width, height):
    """A tiny PNG that declares width x height pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )
    return str(path)


@pytest.mark.parametrize("width, height", [(100000, 100000), (20000, 15000)])
def test_a_picture_that_declares_too_many_pixels_is_refused_before_decoding(tmp_path, width, height):
    path = bomb_png(tmp_path / "bomb.png", width, height)
    with pytest.raises(ImageError, match="megapixels|exceeds limit"):
        read_image(path)


def test_working_factor_fits_the_budget_or_obeys_the_user():
    from scalefree.plane.pictures import shrunk_size, working_factor

    assert working_factor(3024, 4032, None, 1 << 18) == pytest.approx(6.82, abs=0.01)
    h, w = shrunk_size(3024, 4032, working_factor(3024, 4032, None, 1 << 18))
    assert abs(h * w - (1 << 18)) < 1000 and (h, w) == (443, 591)
    assert working_factor(256, 256, None, 1 << 18) == 1.0  # never enlarges
    assert working_factor(3024, 4032, 1.0, 1 << 18) == 1.0 and working_factor(100, 100, 2.5, 1) == 2.5
