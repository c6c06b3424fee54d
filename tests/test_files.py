"""What -i and -m name may be anything: a pipe, a FIFO nobody writes to, a device, a loop, a folder."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT, half_planes_image
from PIL import Image
from test_cli import assert_clean_error, cli

from scalefree.formats import streams


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(path)
    return path


def test_a_picture_through_a_pipe_is_learnt(tmp_path, photo):
    command = [sys.executable, str(ROOT / "image_learn.py"), "-i", "/dev/stdin", "-d", "4", "-n", "4", "-c", "1"]
    with open(photo, "rb") as f:
        result = subprocess.run(
            [*command, "--no_display", "--output_dir", str(tmp_path)],
            stdin=f,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "stdin_32x32_linear_4d_4h.pkl").exists()


def test_a_fifo_nobody_writes_to_is_one_line_after_a_wait_not_a_hang(tmp_path, monkeypatch):
    fifo = tmp_path / "waiting.png"
    os.mkfifo(fifo)
    # cli() fails the test if the command has not ended in 120 s.
    result = cli("-i", fifo, "-c", "1", "--output_dir", tmp_path)
    assert_clean_error(result, r"nothing came from .*waiting.png in 10 s: is anything writing to it\?")
    result = cli("-j", "-m", fifo)
    assert_clean_error(result, r"cannot load model file|nothing came from")


def test_a_fifo_that_is_written_to_later_is_read(tmp_path):
    fifo = tmp_path / "late.png"
    os.mkfifo(fifo)
    Image.fromarray(half_planes_image(32)).save(tmp_path / "src.png")
    writer = subprocess.Popen(["sh", "-c", f"sleep 1; cat {tmp_path / 'src.png'} > {fifo}"])
    try:
        data = streams.read_bytes(str(fifo), 1 << 20, "image")
    finally:
        writer.wait(timeout=30)
    assert data == (tmp_path / "src.png").read_bytes()


@pytest.mark.parametrize(
    "path, pattern",
    [
        ("/dev/zero", r"/dev/zero is a character device, not an image"),
        ("/dev/null", r"/dev/null is a character device, not an image"),
    ],
)
def test_devices_are_refused_unopened(tmp_path, path, pattern):
    assert_clean_error(cli("-i", path, "-c", "1", "--output_dir", tmp_path), pattern)
    assert_clean_error(cli("-j", "-m", path), pattern.replace("an image", "a model file"))


def test_a_symlink_loop_and_a_folder_named_like_an_image(tmp_path):
    loop = tmp_path / "loop.png"
    os.symlink(loop, loop)
    assert_clean_error(cli("-i", loop, "-c", "1", "--output_dir", tmp_path), r"loop.png")
    assert_clean_error(cli("-j", "-m", loop), r"loop.png")


def test_a_folder_skips_its_fifos_devices_and_folders_without_opening_them(tmp_path, photo):
    folder = tmp_path / "in"
    folder.mkdir()
    os.replace(photo, folder / "a.png")
    os.mkfifo(folder / "b.png")  # nobody will ever write to it
    (folder / "c.png").mkdir()
    os.symlink("/dev/zero", folder / "d.png")
    # A FIFO opened to be read would wait STREAM_WAIT (10 s) each time it is met: skipped, it is not.
    result = cli("-i", folder, "-d", "4", "-n", "4", "-c", "1", "--output_dir", tmp_path / "out", "--no_display")
    assert result.returncode == 0, result.stderr
    said = result.stdout
    assert "skipped" in said and "b.png: it is a pipe or FIFO" in said and "c.png: it is a folder" in said
    assert "d.png: it is a character device" in said
    assert "1 trained, 0 done before, 3 failed" in said
    assert "nothing came from" not in said
