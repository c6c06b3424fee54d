"""make_movie.py on generated frames, read back with OpenCV and Pillow."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from scalefree.plane.pictures import psnr

W, H = 64, 48


def frame_image(i):
    """A frame whose content says which one it is: a gradient plus a moving bar."""
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([(x * 4) % 256, (y * 5) % 256, np.full_like(x, (i * 9) % 256)], axis=2)
    img[:, (i * 2) % W : (i * 2) % W + 6] = 255
    return img.astype(np.uint8)


def make_frames(folder, n=30, padded=False, meta=True):
    folder.mkdir()
    with open(folder / "frames.jsonl", "w") as f:
        for i in range(1, n + 1):
            name = f"run_cycle-{i:08d}.png" if padded else f"run_cycle-{i}.png"
            Image.fromarray(frame_image(i)).save(folder / name)
            if meta:
                f.write(
                    json.dumps(
                        {
                            "file": name,
                            "cycle": i,
                            "psnr": 20 + i / 10,
                            "parameters": {"type": "linear", "n_dividers": 8},
                        }
                    )
                    + "\n"
                )
    return folder


def movie(*args):
    return subprocess.run(
        [sys.executable, str(ROOT / "make_movie.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def read_video(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame[:, :, ::-1])
    return frames


def mse(a, b):
    return float(np.mean((a.astype(float) / 255 - b.astype(float) / 255) ** 2))


def test_mp4_has_every_frame_and_hold_in_order(tmp_path):
    frames = make_frames(tmp_path / "frames")  # names not zero-padded: order must be numeric
    result = movie(frames, "--fps", 10, "--hold_first", 0.5, "--hold_last", 1)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "frames.mp4"
    assert str(out) in result.stdout
    got = read_video(out)
    assert len(got) == 30 + 5 + 10
    assert got[0].shape == (H, W, 3)
    assert psnr(mse(got[0], frame_image(1))) >= 30
    assert psnr(mse(got[5 + 9], frame_image(10))) >= 30  # after the hold, cycle 10 not cycle 2
    assert psnr(mse(got[-1], frame_image(30))) >= 30


def test_gif_timing_size_and_caption(tmp_path):
    frames = make_frames(tmp_path / "frames", n=20, padded=True)
    out = tmp_path / "out.gif"
    result = movie(frames, "-o", out, "--fps", 20, "--hold_last", 0.5, "--scale", 2, "--caption")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as gif:
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
        size = gif.size
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
    # Pillow merges identical frames, so the holds show up as time, not as frames;
    # the message counts the frames the file holds, and the time it plays.
    assert sum(durations) == pytest.approx((20 + 10) * 50, abs=20)
    assert f"wrote {len(durations)} frames" in result.stdout and ", 1.5 s," in result.stdout
    assert size[0] == 2 * W and size[1] > 2 * H  # the caption bar sits under the frame
    top = np.asarray(Image.fromarray(frame_image(1)).resize((2 * W, 2 * H), Image.LANCZOS))
    assert psnr(mse(first[: 2 * H], top)) >= 25  # GIF palette costs a little


def test_size_option_and_resize_warning(tmp_path):
    frames = make_frames(tmp_path / "frames", n=5)
    Image.fromarray(np.zeros((30, 30, 3), np.uint8)).save(frames / "run_cycle-6.png")
    out = tmp_path / "s.avi"
    result = movie(frames, "-o", out, "--size", "80x60", "--hold_last", 0)
    assert result.returncode == 0, result.stderr
    assert "run_cycle-6.png is 30x30" in result.stderr
    got = read_video(out)
    assert len(got) == 6 and got[0].shape == (60, 80, 3)


def test_several_runs_in_sequence_and_in_a_grid(tmp_path):
    a = make_frames(tmp_path / "a", n=10)
    b = make_frames(tmp_path / "b", n=6)
    c = make_frames(tmp_path / "c", n=8)
    seq = tmp_path / "seq.mp4"
    assert movie(a, b, c, "-o", seq, "--hold_last", 0, "--caption").returncode == 0
    assert len(read_video(seq)) == 24
    grid = tmp_path / "grid.mp4"
    result = movie(a, b, c, "-o", grid, "--grid", "--hold_last", 0, "--title", "three runs", "--fps", 10)
    assert result.returncode == 0, result.stderr
    got = read_video(grid)
    assert len(got) == 15 + 10  # the title card, then the longest run
    assert got[-1].shape == (2 * H, 2 * W, 3)  # 3 runs in a 2x2 grid


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("missing", "no such folder"),
        ("empty", "no frames"),
        ("unreadable", "cannot read frame"),
        ("extension", "unknown video extension"),
        ("unwritable", "cannot write"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, case, pattern):
    folder = make_frames(tmp_path / "frames", n=3)
    out = tmp_path / "out.mp4"
    if case == "missing":
        folder = tmp_path / "nope"
    elif case == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif case == "unreadable":
        (folder / "run_cycle-2.png").write_bytes(b"not a png")
    elif case == "extension":
        out = tmp_path / "out.mkv"
    elif case == "unwritable":
        (tmp_path / "blocker").write_text("")
        out = tmp_path / "blocker" / "out.mp4"
    result = movie(folder, "-o", out)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and pattern in result.stderr
    assert not out.exists()
    # No temporary file left behind (they are hidden: ".out.mp4.<pid>-<random>.tmp.mp4").
    assert [p for p in os.listdir(out.parent if out.parent.is_dir() else tmp_path) if p.startswith(".")] == []


def test_bad_metadata_lines_are_skipped_with_a_warning(tmp_path):
    frames = make_frames(tmp_path / "frames", n=4)
    with open(frames / "frames.jsonl", "ab") as f:
        f.write(b'\xff\xfe not utf-8\n{"file": "run_cycle-2.png", "cycle": "abc"}\n[1, 2]\n{"cycle": 3}\n')
    out = tmp_path / "out.avi"
    result = movie(frames, "-o", out, "--hold_last", 0)
    assert result.returncode == 0, result.stderr
    assert "skipped 4 lines" in result.stderr and "Traceback" not in result.stderr
    assert "wrote 4 frames" in result.stdout


def test_a_frame_that_declares_too_many_pixels_is_a_one_line_error(tmp_path):
    from test_images import bomb_png

    frames = make_frames(tmp_path / "frames", n=3, meta=False)
    bomb_png(frames / "run_cycle-2.png", 100000, 100000)
    result = movie(frames, "-o", tmp_path / "out.avi")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "frame" in result.stderr and "run_cycle-2.png" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_gif_is_written_frame_by_frame_and_reads_back_exactly(tmp_path):
    from scalefree.formats.movie import _GifWriter

    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    pictures = [palette[rng.integers(0, 16, (24, 40))] for _ in range(6)]
    sequence = [0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5, 5]  # repeats become longer frames
    path = tmp_path / "out.gif"
    writer = _GifWriter(str(path), 10, (40, 24))
    for k in sequence:
        writer.add(pictures[k])
    assert writer.close() == 6
    with Image.open(path) as gif:
        assert gif.n_frames == 6 and gif.info.get("loop") == 0
        for k, repeats in enumerate([1, 3, 1, 2, 1, 4]):
            gif.seek(k)
            assert gif.info["duration"] == repeats * 100
            np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), pictures[k])


def test_videos_use_codecs_browsers_play_and_odd_sizes_are_padded_not_cropped(tmp_path):
    from clients import video_stream

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(1, 11):
        Image.fromarray(frame_image(i)[: H - 1, : W - 1]).save(frames / f"run_cycle-{i}.png")  # 63x47
    for ext, codecs in [(".mp4", {"h264", "vp9"}), (".webm", {"vp9"})]:
        out = tmp_path / f"run{ext}"
        result = movie(frames, "-o", out, "--fps", 10, "--hold_last", 0)
        assert result.returncode == 0, result.stderr
        assert "64x48" in result.stdout and "need even sizes" in result.stderr
        stream = video_stream(out)
        assert stream["codec_name"] in codecs, stream
        assert (stream["width"], stream["height"]) == (W, H) and stream["duration"] == pytest.approx(1.0, abs=0.05)
        got = read_video(out)
        assert len(got) == 10
        # Padded by repeating the last row and column: nothing of the frame was cut.
        assert psnr(mse(got[3][: H - 1, : W - 1], frame_image(4)[: H - 1, : W - 1])) >= 30
        assert psnr(mse(got[3][H - 1], got[3][H - 2])) >= 30


def test_chromium_plays_the_mp4_and_the_webm(tmp_path):
    from clients import page_text

    frames = make_frames(tmp_path / "frames", n=10)
    names = ["run.mp4", "run.webm"]
    for name in names:
        result = movie(frames, "-o", tmp_path / name, "--fps", 10, "--hold_last", 0)
        assert result.returncode == 0, result.stderr
    page = tmp_path / "play.html"
    page.write_text(
        """<!doctype html><pre id="out">waiting</pre><script>
      const found = {};
      const names = NAMES;
      for (const name of names) {
        const video = document.createElement("video");
        video.muted = true;
        const report = (what) => {
          found[name] = what;
          if (Object.keys(found).length === names.length) out.textContent = JSON.stringify(found);
        };
        video.onloadeddata = () => report({readyState: video.readyState, duration: video.duration,
                                            width: video.videoWidth, height: video.videoHeight});
        video.onerror = () => report({error: video.error.code});
        video.src = name;
      }
    </script>""".replace("NAMES", json.dumps(names))
    )
    played = page_text(page)
    for name in names:
        assert played[name].get("readyState", 0) >= 2, played  # HAVE_CURRENT_DATA: a frame was decoded
        assert (played[name]["duration"], played[name]["width"], played[name]["height"]) == (1, W, H)
