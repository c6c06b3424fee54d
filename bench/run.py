"""The benchmark: training speed and quality, the first tool's settings side by side,
render time and memory, start-up. Prints tables (Markdown) and can save them.

    python -m bench                   # the speed run, several minutes
    python -m bench --quality         # PSNR over photos, types and N: about half an hour
    python -m bench --quick           # a smoke run of both, a few seconds
    python -m bench --save bench/results
"""

import argparse
import datetime
import gzip
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from scalefree.config import Config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [("linear", 128, 32), ("circular", 64, 20), ("relu", 128, 32)]
FIRST_TOOL = {
    "optimizer": "adadelta",
    "learning_rate": 0.01,
    "batch_size": 16,
    "init": "random",
    "replace_every": 0,
    "gradient_sharpness": 5.0,
    "divider_lr_scale": 1.0,
    "lr_decay_steps": 0,
}
FIRST_TOOL_EPOCHS = 20
# One photo of each kind: portrait, animal fur (textured), landscape, flat graphic.
QUALITY_PHOTOS = ["scalefree/data/astronaut.png", "assets/chelsea.png", "assets/rocket.png", "assets/poster.png"]
QUALITY_TYPES = ["linear", "circular"]
QUALITY_NS = [8, 32, 128, 512]


def colour_units_for(n):
    """Colour units used with N dividers in the quality table (the targets pair 32 with 16, 128 with 32)."""
    return 16 if n <= 32 else 32


def flops_per_pixel(n, m):
    """Forward plus backward, counted as 3x the forward pass.

    Forward: the 2->N divider maths (about 12 FLOP a unit: offsets, norm,
    dot product, divide, tanh) and the two dense layers (2 FLOP a weight).
    """
    return 3 * (12 * n + 2 * (n * m + m * 3))


def _trainer(image, kind, n, m, **overrides):
    from scalefree.config import Config
    from scalefree.nn.trainer import Trainer

    return Trainer(Config(type=kind, n_dividers=n, n_hidden=m, **{"seed": 0, **overrides}), image)


def _cpu_seconds():
    # The process's CPU time to the nanosecond: os.times() counts in ticks of 10 ms, and summed over many
    # short epochs their rounding carried the quick run's CPU use past 100 % (101 % seen in CI).
    return time.process_time()


def train_for(trainer, seconds, marks, stop_psnr=None, already=0.0):
    """Train until `seconds` of training time; PSNR at each mark, epoch times, CPU use.

    Time spent evaluating PSNR is not counted as training time; `already`
    seconds (setting up) are counted, and at least one epoch runs. With
    `stop_psnr`, also return the training time at the end of the first epoch
    whose PSNR reaches it (None if never).
    """
    from scalefree.plane.pictures import psnr

    trained, epoch_times, at_marks, reached = already, [], {}, None
    cpu = wall = 0.0
    # Two epochs at least: the first compiles the graph, and speed figures need a steady one.
    while trained < seconds or len(epoch_times) < 2:
        c0, t0 = _cpu_seconds(), time.perf_counter()
        trainer.train_epoch()
        dt = time.perf_counter() - t0
        if epoch_times:  # the first epoch compiles the graph
            cpu += _cpu_seconds() - c0
            wall += dt
        epoch_times.append(dt)
        trained += dt
        due = [m for m in marks if m not in at_marks and trained >= m]
        if due or stop_psnr is not None:
            value = psnr(trainer.evaluate())
            for m in due:
                at_marks[m] = value
            if stop_psnr is not None and value >= stop_psnr:
                reached = trained
                break
    # The first epoch includes compiling the graph: leave it out of speed figures.
    steady = epoch_times[1:] or epoch_times
    return {
        "epoch_s": statistics.median(steady),
        "marks": at_marks,
        "reached_s": reached,
        "cpu_util": cpu / wall / (os.cpu_count() or 1) if wall else float("nan"),
        "epochs": len(epoch_times),
    }


def bench_training(image, seconds, marks):
    rows = []
    pixels = image.shape[0] * image.shape[1]
    for kind, n, m in CONFIGS:
        run = train_for(_trainer(image, kind, n, m), seconds, marks)
        full = _trainer(image, kind, n, m, batch_size=pixels)
        full_times = []
        for _ in range(4):
            t0 = time.perf_counter()
            full.train_epoch()
            full_times.append(time.perf_counter() - t0)
        full_epoch = statistics.median(full_times[1:])
        rate = pixels / run["epoch_s"]
        rows.append(
            [
                f"{kind} {n}/{m}",
                f"{run['epoch_s']:.3f}",
                f"{rate / 1e6:.2f}",
                f"{rate * flops_per_pixel(n, m) / 1e9:.1f}",
                f"{run['cpu_util'] * 100:.0f}%",
                f"{full_epoch:.3f}",
                f"{run['epoch_s'] / full_epoch:.2f}",
                *[f"{run['marks'].get(mk, float('nan')):.2f}" for mk in marks],
            ]
        )
    header = [
        "config",
        "s/epoch",
        "Mpx·epoch/s",
        "GFLOP/s",
        "CPU (of all cores)",
        "full-batch s/epoch",
        "epoch / full-batch",
        *[f"PSNR@{mk:g}s" for mk in marks],
    ]
    return header, rows


def bench_first_tool(image, epochs, limit_seconds):
    """The first tool's settings for `epochs` epochs, then ours to the same PSNR."""
    from scalefree.plane.pictures import psnr

    kind, n, m = CONFIGS[0]
    theirs = _trainer(image, kind, n, m, **FIRST_TOOL)
    t_theirs = 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        theirs.train_epoch()
        t_theirs += time.perf_counter() - t0
    bar = psnr(theirs.evaluate())
    ours = train_for(_trainer(image, kind, n, m), limit_seconds, [], stop_psnr=bar)
    reached = ours["reached_s"]
    header = ["run", "settings", "PSNR", "training seconds", "speed-up"]
    rows = [
        [
            f"first tool's, {epochs} epochs",
            "adadelta lr 0.01, batch 16, random init",
            f"{bar:.2f}",
            f"{t_theirs:.1f}",
            "1x",
        ],
        [
            "ours, to the same PSNR",
            "defaults",
            f"{bar:.2f}" if reached else "not reached",
            f"{reached:.2f}" if reached else f"> {limit_seconds:g}",
            f"{t_theirs / reached:.0f}x" if reached else "-",
        ],
    ]
    return header, rows


def bench_quality(photos, kinds, ns, seconds, marks, seed=0, longest_side=None):
    """PSNR at each time mark for every photo, divider type and N, default settings.

    With `longest_side`, each photo is first shrunk to it (the quick run).
    """
    from scalefree.formats.images import read_image
    from scalefree.plane.pictures import downscale

    rows = []
    for path in photos:
        image = read_image(path)
        if longest_side:
            image = downscale(image, max(image.shape[:2]) / longest_side)
        for kind in kinds:
            for n in ns:
                m = colour_units_for(n)
                print(f"  {os.path.basename(path)} {kind} {n}/{m} ...", file=sys.stderr, flush=True)
                at = saved_by_marks(image, kind, n, m, seconds, marks, seed)
                shown = [f"{at[mk]:.2f}" if math.isfinite(at[mk]) else "-" for mk in marks]  # "-": nothing saved yet
                rows.append([os.path.basename(path), kind, f"{n}/{m}", *shown])
    return ["photo", "type", "N/M", *[f"PSNR@{mk:g}s" for mk in marks]], rows


def saved_by_marks(image, kind, n, m, seconds, marks, seed):
    """PSNR of the model a run has saved by each mark: the best cycle so far, its first model included.

    Trained as the Python API trains (scalefree.fit, the command line's
    path), the clock started before the dividers are placed; TensorFlow is
    loaded already, as it is after the first photo of a folder.
    """
    import scalefree

    at, best = {}, -math.inf
    started = time.perf_counter()

    def on_cycle(result):
        nonlocal best
        now = time.perf_counter() - started
        for mark in marks:
            if mark not in at and now >= mark:
                at[mark] = best  # saved before this cycle ended
        best = max(best, result.psnr)

    scalefree.fit(image, n, shape=kind, colours=m, seconds=seconds, on_cycle=on_cycle, progress=False, seed=seed)
    return {mark: at.get(mark, best) for mark in marks}


def quality_curve(rows):
    """PSNR at the last mark against N, one row a type, averaged over the photos."""
    by = {}
    for _photo, kind, nm, *values in rows:
        by.setdefault(kind, {}).setdefault(int(nm.split("/")[0]), []).append(float(values[-1]))
    ns = sorted({n for per in by.values() for n in per})
    header = ["type", *[f"N={n}" for n in ns]]
    out = [[kind, *[f"{statistics.mean(per[n]):.2f}" if n in per else "-" for n in ns]] for kind, per in by.items()]
    return header, out


class PeakMemory:
    """A child process's peak RSS, watched from outside.

    Not its rusage: Linux carries ru_maxrss across exec, so a child started
    from this process (which holds TensorFlow) would report our peak as its
    own. VmHWM belongs to the child's own address space; it is read every
    0.1 s until the child exits.
    """

    def __init__(self, pid):
        import threading

        self.peak_kb = 0
        self._path = f"/proc/{pid}/status"
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while True:
            try:
                with open(self._path) as f:
                    line = next(line for line in f if line.startswith("VmHWM:"))
            except (OSError, StopIteration):
                return
            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
            time.sleep(0.1)

    def gigabytes(self):
        self._thread.join(timeout=5)
        return self.peak_kb / 1024**2


def bench_render(image, sides, workdir):
    from scalefree.model import TrainingState

    trainer = _trainer(image, "linear", 128, 32)
    trainer.train_epoch()
    model = os.path.join(workdir, "render.pkl")
    state = TrainingState(config=trainer.config, image=image, image_name="bench.png", cycle=1, epoch=1)
    trainer.to_model().replace(training=state).save(model)
    rows = []
    for side in sides:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.render_child", model, str(side)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        peak = PeakMemory(proc.pid)
        out = proc.stdout.read()
        status = proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        if status != 0 or not out.strip():
            rows.append([f"{side}x{side}", "failed", "-", "-"])
            continue
        seconds, h, w = out.split()
        rows.append([f"{w}x{h}", f"{int(w) * int(h) / 1e6:.1f}", f"{float(seconds):.2f}", f"{peak.gigabytes():.2f}"])
    return ["render (128 lines / 32)", "Mpx", "seconds", "peak RSS GB"], rows


def bench_startup(workdir):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "image_learn.py"), "--help"], capture_output=True, env=env, check=True)
    help_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "image_learn.py"),
            "-d",
            "128",
            "-n",
            "32",
            "-c",
            "1",
            "--no_display",
            "--output_dir",
            workdir,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    first = float("nan")
    for line in proc.stdout:
        if line.startswith("cycle"):
            first = time.perf_counter() - t0
    proc.wait()
    return ["start-up", "seconds"], [
        ["image_learn.py --help", f"{help_s:.2f}"],
        ["launch to first cycle line (default image, 128/32)", f"{first:.2f}"],
    ]


def phone_photo(path, size=(4032, 3024), seed=0):
    """A stand-in for a 12-megapixel phone photo: the bundled photo enlarged, sensor-like noise, JPEG."""
    from PIL import Image

    from scalefree.formats.images import read_bundled_image

    w, h = size
    small = read_bundled_image()
    side = max(w, h)
    big = np.asarray(Image.fromarray(small).resize((side, side), Image.LANCZOS))
    top, left = (side - h) // 2, (side - w) // 2
    big = big[top : top + h, left : left + w].astype(np.float32)
    big += np.random.default_rng(seed).normal(0, 3, big.shape).astype(np.float32)
    Image.fromarray(np.clip(big + 0.5, 0, 255).astype(np.uint8)).save(path, quality=92)


def _timed_run(args):
    """Run image_learn.py; seconds to its first line and to its first cycle line, peak RSS (GB), stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "image_learn.py"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = PeakMemory(proc.pid)
    first = first_cycle = float("nan")
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if len(lines) == 1:
            first = time.perf_counter() - t0
        if line.startswith("cycle") and first_cycle != first_cycle:
            first_cycle = time.perf_counter() - t0
    err = proc.stderr.read()
    status = proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    if status != 0:
        raise RuntimeError(f"image_learn.py {' '.join(args)} failed: {err[-500:]}")
    return first, first_cycle, peak.gigabytes(), "".join(lines)


def _full_size_psnr(model, photo_path):
    """PSNR of a saved model drawn over the whole photo (its partition), at the photo's own size, against it."""
    import scalefree

    return scalefree.load(model).psnr(photo_path)


def bench_large_photo(workdir, seconds, size=(4032, 3024), extra=()):
    """A phone-sized photo through the command line, and the same run on a copy shrunk by hand."""
    from PIL import Image

    from scalefree.config import PIXEL_BUDGET
    from scalefree.formats.images import read_image
    from scalefree.plane.pictures import shrunk_size, working_factor

    photo = os.path.join(workdir, "phone.jpg")
    phone_photo(photo, size)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import scalefree.nn._tensorflow"], check=True, cwd=ROOT)
    tf_load = time.perf_counter() - t0
    common = [
        "-d",
        "128",
        "-t",
        "linear",
        "--max_seconds",
        f"{seconds:g}",
        "--no_display",
        "--seed",
        "0",
        "--output_dir",
        workdir,
        "--overwrite",
        *extra,
    ]
    first, first_cycle, rss, out = _timed_run(["-i", photo, *common])
    model = out.split("model saved to ")[1].split()[0]
    full = _full_size_psnr(model, photo)
    w, h = size
    budget = int(extra[extra.index("--pixel_budget") + 1]) if "--pixel_budget" in extra else PIXEL_BUDGET
    small_h, small_w = shrunk_size(h, w, working_factor(h, w, None, budget))
    small = os.path.join(workdir, "phone_small.png")
    Image.fromarray(read_image(photo)).resize((small_w, small_h), Image.LANCZOS).save(small)
    *_, out_small = _timed_run(["-i", small, *common])
    by_hand = _full_size_psnr(out_small.split("model saved to ")[1].split()[0], photo)
    return (
        ["figure", "value"],
        [
            [
                "photo",
                f"{w}x{h} JPEG ({os.path.getsize(photo) / 1e6:.1f} MB), -d 128 -t linear, "
                f"trained at {small_w}x{small_h}",
            ],
            ["TensorFlow import alone (s)", f"{tf_load:.2f}"],
            ["launch to first line of its own (s)", f"{first:.2f}"],
            ["launch to first cycle line (s)", f"{first_cycle:.2f}"],
            ["peak RSS (GB)", f"{rss:.2f}"],
            [f"PSNR after {seconds:g} s, rendered at {w}x{h} against the photo (dB)", f"{full:.2f}"],
            [f"same, trained on a copy shrunk by hand to {small_w}x{small_h} (dB)", f"{by_hand:.2f}"],
        ],
    )


def big_photo(path, side, seed=0):
    """A stand-in for a huge photo: the bundled one enlarged to side x side, with sensor-like noise, as JPEG.

    Made by libvips a band at a time: a 100-megapixel photo never sits whole in this process either.
    """
    import pyvips

    small = pyvips.Image.new_from_file(str(ROOT / "scalefree" / "data" / "astronaut.png"))
    big = small.resize(side / small.width, vscale=side / small.height, kernel="linear")
    noise = pyvips.Image.gaussnoise(side, side, sigma=6, seed=seed)
    (big + noise.bandjoin([noise, noise])).cast("uchar").write_to_file(path, Q=90)


def _free_ports(n):
    ports = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    return ports


def _cluster_run(args, workers, workdir):
    """image_learn.py as `workers` local processes of one cluster (1: a plain run): peak RSS (GB) each, seconds."""
    ports = _free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    started, procs = time.perf_counter(), []
    for index in range(workers):
        env = dict(os.environ)
        extra = []
        if workers > 1:
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            extra = ["--strategy", "multiworker"]
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "image_learn.py"), *args, *extra, "--output_dir", workdir],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        procs.append((proc, PeakMemory(proc.pid)))
    peaks = []
    for proc, peak in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"image_learn.py {' '.join(args)} failed: {err[-500:]}")
        peaks.append(peak.gigabytes())
    return peaks, time.perf_counter() - started, out


def bench_cluster(workdir, side=10000, cycles=1):
    """One huge photo trained on every pixel by one process and by two local workers: memory, checkpoint, time."""
    from scalefree.formats import checkpoint

    photo = os.path.join(workdir, "big.jpg")
    big_photo(photo, side)
    args = ["-i", photo, "-p", "1", "-d", "16", "-n", "8", "-c", str(cycles), "-e", "1"]
    args += ["--batch_size", "16384", "--seed", "0", "--no_display", "--overwrite"]
    rows = []
    name = f"big_{side}x{side}_linear_16d_8h.pkl"
    for workers in (1, 2):
        out_dir = os.path.join(workdir, f"{workers}-workers")
        peaks, seconds, _ = _cluster_run(args, workers, out_dir)
        saved = os.path.join(out_dir, name)
        model = checkpoint.read(saved)
        weights = sum(a.nbytes for a in model.weights())
        rows.append(
            [
                "one process" if workers == 1 else f"{workers} local workers",
                " / ".join(f"{p:.2f}" for p in peaks),
                f"{os.path.getsize(saved):,} ({weights:,} of weights)",
                f"{model.training.history.cycles[-1].psnr:.2f}",
                f"{seconds:.0f}",
            ]
        )
    alone = float(rows[0][1])
    worst = max(float(p) for p in rows[1][1].split(" / "))
    rows.append(["per-worker peak / one process's", f"{worst / alone:.0%}", "", "", ""])
    header = [
        f"{side}x{side} JPEG ({os.path.getsize(photo) / 1e6:.0f} MB), -p 1 -d 16 -n 8 -e 1 -c {cycles}, batch 16384",
        "peak RSS (GB) each",
        "checkpoint bytes",
        "PSNR (dB)",
        "seconds",
    ]
    return header, rows


ANYTIME_MARKS = [0.5, 1, 2, 5, 10, 30, 60]
# The colour units a run has unless told: the anytime and first-model figures are those of the defaults.
DEFAULT_M = Config.n_hidden
# Ours against primitive with as many shapes: 128 lines and 128 triangles (-m 1), 128 and 32 circles and as
# many circles (-m 4).
ANYTIME_CONFIGS = [("linear", 128, DEFAULT_M, 1), ("circular", 128, DEFAULT_M, 4), ("circular", 32, DEFAULT_M, 4)]
PRIMITIVE_COUNTS = [8, 16, 32, 64, 128]
# Where shared/tools/primitive/build.sh puts the binary.
BUILT_PRIMITIVE = "/tmp/primitive-bin/primitive"


def saved_over_time(photo, kind, n, m, seconds, seed, workdir):
    """(seconds from launch, PSNR) of every model the command line saves: cycle 0's, then each cycle's.

    A cycle's line is printed once its checkpoint is on disk, so the time of
    the line is when that model could be had.
    """
    import re

    t0 = time.perf_counter()
    args = ["-i", photo, "-t", kind, "-d", str(n), "-n", str(m), "--max_seconds", f"{seconds:g}", "--seed", str(seed)]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "image_learn.py"), *args, "--no_display", "--overwrite", "--output_dir", workdir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    points = []
    for line in proc.stdout:
        now = time.perf_counter() - t0
        found = re.search(r"cycle 0, PSNR ([\d.]+) dB", line) or re.match(r"cycle\s+\d+\s.*PSNR\s+([\d.]+) dB", line)
        if found:
            points.append((now, float(found.group(1))))
    proc.wait()
    return points


def best_by(points, mark):
    """The best PSNR among `points` reached by `mark` seconds: what a run stopped then ends with."""
    reached = [psnr for seconds, psnr in points if seconds <= mark]
    return max(reached) if reached else None


def primitive_runs(primitive, photo, mode, counts, workdir):
    """(wall seconds, PSNR) of primitive with each shape count, one run each, as it is started from a shell."""
    from scalefree.formats.images import read_image
    from scalefree.plane.pictures import picture_psnr

    target = read_image(photo)
    runs = []
    for count in counts:
        out = os.path.join(workdir, f"primitive_{count}.png")
        t0 = time.perf_counter()
        args = ["-i", photo, "-o", out, "-n", str(count), "-m", str(mode), "-r", "256", "-s", "256", "-j", "2"]
        subprocess.run([primitive, *args], check=True, capture_output=True)
        seconds = time.perf_counter() - t0
        picture = read_image(out)
        if picture.shape != target.shape:
            picture = np.asarray(Image.fromarray(picture).resize(target.shape[1::-1], Image.LANCZOS))
        runs.append((count, seconds, picture_psnr(picture, target)))
    return runs


def bench_anytime(photos, primitive, seconds, workdir, seed=1):
    """PSNR of the saved model against wall time from launch, beside primitive's at the same time.

    Primitive with fewer shapes is what it has at an earlier time: at each
    mark its PSNR is that of the largest run that had finished by then.
    """
    marks = [f"{m:g} s" for m in ANYTIME_MARKS]
    header = ["photo", "model", *marks, "to primitive's PSNR", "primitive's time", "ratio"]
    rows = []
    for photo in photos:
        for kind, n, m, mode in ANYTIME_CONFIGS:
            points = saved_over_time(photo, kind, n, m, seconds, seed, workdir)
            ours = [best_by(points, mark) for mark in ANYTIME_MARKS]
            name = os.path.basename(photo)
            rows.append([name, f"ours, {n} {kind}/{m}", *[f"{v:.2f}" if v else "-" for v in ours], "", "", ""])
            if not primitive:
                continue
            runs = primitive_runs(primitive, photo, mode, [c for c in PRIMITIVE_COUNTS if c <= n], workdir)
            theirs = [max([p for _, s, p in runs if s <= mark], default=None) for mark in ANYTIME_MARKS]
            _, their_time, their_psnr = runs[-1]
            reached = next((s for s, p in points if p >= their_psnr), None)
            rows[-1][-3:] = [f"{reached:.2f} s" if reached else "not reached", f"{their_time:.2f} s", "-"]
            rows[-1][-1] = f"{reached / their_time:.2f}" if reached else "-"
            label = "triangles" if mode == 1 else "circles"
            rows.append([name, f"primitive, {label}", *[f"{v:.2f}" if v else "-" for v in theirs], "", "", ""])
    return header, rows


# Models for the web table: (N lines, M colour units) from the smallest to 128 / 32, and primitive's counts.
WEB_CONFIGS = [(8, 4), (16, 8), (32, 8), (32, 16), (64, 16), (128, 32), (256, 64)]
WEB_PRIMITIVE_COUNTS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


# SQIP's placeholders: primitive's SVG of a few shapes under a Gaussian blur of this standard deviation,
# in pixels of a 256 px picture (its default), and the bytes its filter adds to the SVG, gzipped.
SQIP_BLUR, SQIP_FILTER_BYTES = 12, 80


def sqip_psnr(picture, target):
    """The PSNR of primitive's picture blurred as SQIP blurs it."""
    from PIL import ImageFilter

    from scalefree.plane.pictures import picture_psnr

    blurred = Image.fromarray(picture).filter(ImageFilter.GaussianBlur(SQIP_BLUR * max(picture.shape[:2]) / 256))
    return picture_psnr(np.asarray(blurred), target)


def primitive_svgs(primitive, photo, counts, workdir, sqip=()):
    """(gzipped SVG bytes, PSNR of its picture) of primitive's triangles (-m 1) at each count.

    The counts in `sqip` are also measured blurred as SQIP shows them: (bytes, PSNR, count) in a second list.
    """
    from scalefree.formats.images import read_image
    from scalefree.plane.pictures import picture_psnr

    target = read_image(photo)
    points, blurred = [], []
    for count in counts:
        png, svg = (os.path.join(workdir, f"primitive_{count}.{ext}") for ext in ("png", "svg"))
        args = ["-i", photo, "-o", png, "-o", svg, "-n", str(count), "-m", "1", "-r", "256", "-s", "256", "-j", "2"]
        if not (os.path.exists(png) and os.path.exists(svg)):  # kept from an earlier run (bench_web's keep)
            subprocess.run([primitive, *args], check=True, capture_output=True)
        picture = read_image(png)
        if picture.shape != target.shape:
            picture = np.asarray(Image.fromarray(picture).resize(target.shape[1::-1], Image.LANCZOS))
        with open(svg, "rb") as f:
            points.append((len(gzip.compress(f.read(), 9)), picture_psnr(picture, target)))
        if count in sqip:
            blurred.append((points[-1][0] + SQIP_FILTER_BYTES, sqip_psnr(picture, target), count))
    return points, blurred


def at_bytes(points, size):
    """PSNR of a (bytes, PSNR) curve at `size` bytes, linear in log bytes between its points; None outside."""
    points = sorted(points)
    for (b0, p0), (b1, p1) in zip(points, points[1:]):
        if b0 <= size <= b1:
            return p0 + (p1 - p0) * (np.log(size) - np.log(b0)) / (np.log(b1) - np.log(b0))
    return None


def bench_web(photos, primitive, seconds, configs=WEB_CONFIGS, seed=1, keep=None):
    """Bytes against PSNR: our data files (gzip -9, the viewer counted once per site) beside primitive's SVGs.

    With `keep` (a folder), each trained model is saved there and found again by a later run, which then
    measures only the files (to compare encoders on the same models).
    """
    import scalefree
    from scalefree.formats.modeldata import decode

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for photo in photos:
            name = os.path.basename(photo)
            shapes = os.path.join(keep, f"primitive_{name}") if keep else os.path.join(workdir, name)
            os.makedirs(shapes, exist_ok=True)
            theirs, sqip = (
                primitive_svgs(primitive, photo, WEB_PRIMITIVE_COUNTS, shapes, (8, 16)) if primitive else ([], [])
            )
            for n, m in configs:
                stem = os.path.splitext(name)[0]
                kept = keep and os.path.join(keep, f"{stem}_lines_{n}_{m}_{seconds:g}s_seed{seed}.pkl")
                if kept and os.path.exists(kept):
                    model = scalefree.load(kept)
                else:
                    model = scalefree.fit(photo, n, "lines", m, seconds=seconds, seed=seed, progress=False)
                    if kept:
                        os.makedirs(keep, exist_ok=True)
                        model.save(kept)
                data = model.to_data()
                size = len(gzip.compress(data, 9))
                psnr = decode(data).psnr(photo)
                there = at_bytes(theirs, size)
                rows.append(
                    [
                        name,
                        f"{n} lines / {m}",
                        f"{size:,}",
                        f"{psnr:.2f}",
                        f"{model.psnr(photo):.2f}",
                        "-" if there is None else f"{there:.2f}",
                        "-" if there is None else f"{psnr - there:+.2f}",
                    ]
                )
                print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
            for count, (size, psnr) in zip(WEB_PRIMITIVE_COUNTS, theirs):
                rows.append([name, f"primitive, {count} triangles", f"{size:,}", f"{psnr:.2f}", "", "", ""])
            for size, psnr, count in sqip:
                rows.append([name, f"SQIP-style: {count} triangles, blurred", f"{size:,}", f"{psnr:.2f}", "", "", ""])
    header = ["photo", "model", "bytes (gzip -9)", "PSNR", "unrounded PSNR", "primitive at those bytes", "margin"]
    return header, rows


def web_plot(rows, width=260, height=200):
    """The bytes-against-PSNR table as an SVG: a panel a photo, bytes on a log axis, ours and primitive's."""
    photos = list(dict.fromkeys(r[0] for r in rows))
    lo, hi = np.log10(100), np.log10(20000)
    psnrs = [float(r[3]) for r in rows]
    bottom, top = math.floor(min(psnrs)) - 1, math.ceil(max(psnrs)) + 1
    pad = 34

    def xy(size, psnr, k):
        x = k * (width + 10) + pad + (np.log10(size) - lo) / (hi - lo) * (width - pad - 6)
        return x, 10 + (top - psnr) / (top - bottom) * (height - 40)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{len(photos) * (width + 10)}" height="{height}" '
        'font-family="sans-serif" font-size="10">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for k, photo in enumerate(photos):
        x0, y0 = xy(10**lo, bottom, k)
        x1, y1 = xy(10**hi, top, k)
        parts.append(
            f'<rect x="{x0:.1f}" y="{y1:.1f}" width="{x1 - x0:.1f}" height="{y0 - y1:.1f}" fill="none" stroke="#999"/>'
        )
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y1 + 12:.1f}" text-anchor="middle">{photo}</text>')
        for size in (100, 300, 1000, 3000, 10000):
            x, _ = xy(size, bottom, k)
            label = f"{size / 1000:g}k" if size >= 1000 else str(size)
            parts.append(f'<text x="{x:.1f}" y="{y0 + 12:.1f}" text-anchor="middle">{label}</text>')
        for psnr in range(bottom + 1, top, 4):
            _, y = xy(100, psnr, k)
            parts.append(f'<text x="{x0 - 3:.1f}" y="{y + 3:.1f}" text-anchor="end">{psnr}</text>')
        for ours, colour in ((True, "#d62728"), (False, "#1f77b4")):
            mine = [
                r for r in rows if r[0] == photo and (" lines / " in r[1] if ours else r[1].startswith("primitive"))
            ]
            points = [xy(int(r[2].replace(",", "")), float(r[3]), k) for r in mine]
            points = sorted(points)
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}"/>' for x, y in points]
    parts.append(
        f'<text x="{pad}" y="{height - 4}" fill="#d62728">ours: model data file (lines)</text>'
        f'<text x="{pad + 180}" y="{height - 4}" fill="#1f77b4">primitive: SVG of triangles</text>'
        f'<text x="{pad + 350}" y="{height - 4}">bytes gzipped (log) against PSNR (dB)</text></svg>'
    )
    return "\n".join(parts) + "\n"


def bench_viewer(repeats=10):
    """The viewer's size, and how long it takes Chromium to draw 128 lines / 32 at 1024 x 1024 (median of repeats)."""
    import http.server
    import shutil
    import threading
    from functools import partial

    from scalefree.formats.modeldata import model_data
    from scalefree.formats.page import viewer_path
    from scalefree.model import ColourLayers, Model
    from scalefree.shapes import Lines

    rng = np.random.default_rng(8)
    n, m = 128, 32
    tail = (rng.normal(0, 0.26, (n, m)), rng.normal(0, 0.5, m), rng.normal(0, 0.24, (m, 3)), rng.normal(0, 0.5, 3))
    model = Model((Lines(rng.uniform(-1, 1, (n, 2)), rng.uniform(0, 2 * np.pi, n)),), ColourLayers(*tail), (256, 256))
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "m.sfm"), "wb") as f:
            f.write(model_data(model)[0])
        shutil.copy(viewer_path(minified=True), os.path.join(folder, "v.js"))
        with open(os.path.join(folder, "t.html"), "w") as f:
            f.write(
                '<!doctype html><body style="margin:0"><scalefree-image id="a" src="m.sfm" scale="4"></scalefree-image>'
                '<script type="module">import "./v.js"; const a = document.getElementById("a");'
                'await new Promise((go) => a.addEventListener("load", go)); const ms = [];'
                f"for (let i = 0; i < {repeats}; i++) {{ a.setAttribute('border', String(i * 1e-4));"
                "await new Promise((go) => setTimeout(go, 300)); ms.push(a.drawnMs); }"
                'console.log("DRAWN " + JSON.stringify({ms, box: a.box}));</script>'
            )

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = partial(Quiet, directory=folder)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/t.html"
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
            flags = ["--headless", "--no-sandbox", "--disable-gpu", "--force-device-scale-factor=1"]
            proc = subprocess.Popen(
                [
                    "chromium",
                    *flags,
                    f"--user-data-dir={profile}",
                    "--window-size=1100,1100",
                    "--enable-logging=stderr",
                    "--v=0",
                    url,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # its helper processes too are stopped below
            )
            result = None
            deadline = time.time() + 120
            for line in proc.stderr:
                if "DRAWN " in line:
                    result = json.loads(line.split("DRAWN ", 1)[1].rsplit('"', 1)[0])
                    break
                if time.time() > deadline:
                    break
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        server.shutdown()
    source, minified = (viewer_path(minified=k).read_bytes() for k in (False, True))
    ms = sorted(result["ms"]) if result else []
    return ["figure", "value"], [
        ["viewer, minified (bytes / gzip -9)", f"{len(minified):,} / {len(gzip.compress(minified, 9)):,}"],
        ["viewer source (bytes / gzip -9)", f"{len(source):,} / {len(gzip.compress(source, 9)):,}"],
        [
            f"128 lines / 32 drawn at {result['box'][0]}x{result['box'][1]} in Chromium (ms), median of {len(ms)}"
            if result
            else "drawing time",
            f"{statistics.median(ms):.1f} (range {ms[0]:.1f}-{ms[-1]:.1f})" if ms else "no result",
        ],
    ]


def folder_photos(folder, count=100, seed=0):
    """`count` photos for a folder run: crops of the bundled photos, 256 px wide, of three heights."""
    rng = np.random.default_rng(seed)
    sources = [np.asarray(Image.open(ROOT / p).convert("RGB")) for p in QUALITY_PHOTOS]
    os.makedirs(folder, exist_ok=True)
    for k in range(count):
        source = sources[k % len(sources)]
        height = (256, 192, 171)[k % 3]
        # Enlarged so that a 256 x 256 crop fits, by a random amount so that crops differ.
        scale = max(256 / source.shape[0], 256 / source.shape[1]) * rng.uniform(1.0, 1.6)
        size = round(source.shape[1] * scale), round(source.shape[0] * scale)
        big = np.asarray(Image.fromarray(source).resize(size))
        top = rng.integers(0, big.shape[0] - height + 1)
        left = rng.integers(0, big.shape[1] - 256 + 1)
        crop = big[top : top + height, left : left + 256]
        Image.fromarray(crop if rng.random() < 0.5 else crop[:, ::-1]).save(os.path.join(folder, f"photo{k:03d}.png"))
    return folder


def first_model_time(photo, kind, n, m, workdir):
    """Seconds from launch until the cycle-0 model is saved (its line is printed after the save)."""
    t0 = time.perf_counter()
    args = ["-i", photo, "-t", kind, "-d", str(n), "-n", str(m), "-c", "1", "--seed", "0"]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "image_learn.py"), *args, "--no_display", "--overwrite", "--output_dir", workdir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seconds = float("nan")
    for line in proc.stdout:
        if "cycle 0, PSNR" in line:
            seconds = time.perf_counter() - t0
            break
    proc.kill()
    proc.wait()
    proc.stdout.close()
    return seconds


def bench_first_model(workdir, phone_size=(4032, 3024)):
    """Launch to a saved cycle-0 model: the bundled photo and a phone photo, 128 lines and 32 circles."""
    photo = str(ROOT / "scalefree" / "data" / "astronaut.png")
    phone = os.path.join(workdir, "phone_first.jpg")
    phone_photo(phone, phone_size)
    rows = []
    for name, path in (("bundled photo, 256x256", photo), (f"phone photo, {phone_size[0]}x{phone_size[1]}", phone)):
        for kind, n, m in (("linear", 128, DEFAULT_M), ("circular", 32, DEFAULT_M)):
            times = [first_model_time(path, kind, n, m, workdir) for _ in range(3)]
            spread = f"{min(times):.2f}-{max(times):.2f}"
            rows.append([name, f"{n} {kind} / {m}", f"{statistics.median(times):.2f}", spread])
    return ["photo", "model", "launch to saved cycle 0 (s), median of 3", "range"], rows


def bench_folder(workdir, count=100, seconds=2.0):
    """A folder of photos through the command line: 32 lines each, --max_seconds each; the whole run's wall time."""
    folder = folder_photos(os.path.join(workdir, "photos"), count)
    t0 = time.perf_counter()
    args = ["-i", folder, "-d", "32", "--max_seconds", f"{seconds:g}", "--output_dir", os.path.join(workdir, "out")]
    done = subprocess.run(
        [sys.executable, str(ROOT / "image_learn.py"), *args, "--no_display"], capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    shapes = len({Image.open(os.path.join(folder, f)).size for f in os.listdir(folder)})
    return ["figure", "value"], [
        ["photos", f"{count}, 256 px on the longer side, {shapes} shapes, 32 lines each, --max_seconds {seconds:g}"],
        ["wall time of the whole run (s)", f"{wall:.1f}"],
        ["per photo (s)", f"{wall / count:.2f}"],
        ["the run's last line", summary],
    ]


def table(title, header, rows):
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine():
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny image, about a second per item: a smoke run")
    ns = ", ".join(map(str, QUALITY_NS))
    p.add_argument(
        "--quality", action="store_true", help=f"the quality table instead: PSNR for each photo, type and N in {ns}"
    )
    bundled = ", ".join(os.path.basename(p) for p in QUALITY_PHOTOS)
    p.add_argument("--photos", nargs="+", metavar="IMAGE", help=f"for --quality (default: the bundled {bundled})")
    p.add_argument("--types", nargs="+", default=QUALITY_TYPES, choices=QUALITY_TYPES, help="for --quality")
    p.add_argument("--image", help="photo for the speed run (default: the bundled one)")
    p.add_argument(
        "--anytime",
        action="store_true",
        help="PSNR of the saved model against wall time from launch, beside primitive's (--photos, --primitive)",
    )
    p.add_argument(
        "--primitive",
        metavar="PATH",
        default=os.environ.get("PRIMITIVE") or next((p for p in [BUILT_PRIMITIVE] if os.path.exists(p)), None),
        help="fogleman/primitive's binary, for --anytime and --web (default: $PRIMITIVE; '' for none)",
    )
    p.add_argument("--folder", action="store_true", help="a folder of 100 photos through the command line, timed")
    p.add_argument(
        "--web",
        action="store_true",
        help="bytes against PSNR of model data files beside primitive's SVGs (--photos, --primitive), "
        "and the web viewer's size and drawing time in Chromium",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="a 100-megapixel photo on every pixel, by one process and by two local workers: peak memory each, "
        "checkpoint size, time (--quick: 20 megapixels)",
    )
    p.add_argument("--save", metavar="DIR", help="also write the tables to DIR/<date>.md")
    p.add_argument("--keep", metavar="DIR", help="for --web: keep the trained models in DIR, and reuse those there")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from scalefree.formats.images import read_bundled_image, read_image
    from scalefree.plane.pictures import downscale

    if args.quality:
        return _main_quality(args)
    if args.anytime or args.folder:
        return _main_anytime(args)
    if args.web:
        return _main_web(args)
    if args.cluster:
        return _main_cluster(args)
    image = read_image(args.image) if args.image else read_bundled_image()
    if args.quick:
        image = downscale(image, max(image.shape[:2]) / 32)
        seconds, marks, first_epochs, limit, sides = 1.0, [0.2, 0.5, 1.0], 1, 2.0, [256]
        photo_size, photo_seconds = (640, 480), 1.0
    else:
        seconds, marks, first_epochs, limit, sides = 60.0, [10, 30, 60], FIRST_TOOL_EPOCHS, 120.0, [4096, 16384]
        photo_size, photo_seconds = (4032, 3024), 60.0
    h, w = image.shape[:2]
    parts = [
        f"## scalefree benchmark, {datetime.date.today()}\n",
        f"Machine: {machine()}. Image: {os.path.basename(args.image or 'astronaut.png')} at {w}x{h} "
        f"({w * h} px). FLOP count per pixel: 3 x (12 N + 2 (N M + 3 M)).\n",
    ]
    print("\n".join(parts), flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        for title, make in [
            ("Training (other options at their defaults)", lambda: bench_training(image, seconds, marks)),
            ("Against the first tool's settings, same run", lambda: bench_first_tool(image, first_epochs, limit)),
            ("Rendering", lambda: bench_render(image, sides, workdir)),
            ("Start-up", lambda: bench_startup(workdir)),
            ("A phone photo", lambda: bench_large_photo(workdir, photo_seconds, photo_size)),
            ("The first model", lambda: bench_first_model(workdir, photo_size)),
        ]:
            print(f"running: {title} ...", file=sys.stderr, flush=True)
            parts.append(table(title, *make()))
            print(parts[-1], flush=True)
    _save(args.save, "", "\n".join(parts))
    return 0


def _main_cluster(args):
    side = 4500 if args.quick else 10000
    parts = [f"## scalefree on a huge photo, one process and a cluster, {datetime.date.today()}\n"]
    parts.append(f"Machine: {machine()}.\n")
    with tempfile.TemporaryDirectory() as workdir:
        parts.append(table("One process and two local workers", *bench_cluster(workdir, side)))
    print(parts[-1], flush=True)
    _save(args.save, "-cluster", "\n".join(parts))
    return 0


def _main_anytime(args):
    photos = args.photos or [str(ROOT / "scalefree" / "data" / "astronaut.png"), str(ROOT / "assets" / "chelsea.png")]
    parts = [f"## scalefree over time, {datetime.date.today()}\n", f"Machine: {machine()}.\n"]
    with tempfile.TemporaryDirectory() as workdir:
        if args.anytime:
            seconds = 2.0 if args.quick else 60.0
            parts.append(
                table(
                    "PSNR of the saved model against wall time from launch (seed 1), and primitive's at the same time",
                    *bench_anytime(photos[:1] if args.quick else photos, args.primitive, seconds, workdir),
                )
            )
            print(parts[-1], flush=True)
        if args.folder:
            parts.append(table("A folder of photos", *bench_folder(workdir, 4 if args.quick else 100)))
            print(parts[-1], flush=True)
    _save(args.save, "-anytime", "\n".join(parts))
    return 0


def _main_web(args):
    photos = args.photos or [str(ROOT / "scalefree" / "data" / "astronaut.png"), str(ROOT / "assets" / "chelsea.png")]
    seconds = 2.0 if args.quick else 60.0
    configs = WEB_CONFIGS[:2] if args.quick else WEB_CONFIGS
    parts = [
        f"## scalefree on the web, {datetime.date.today()}\n",
        f"Machine: {machine()}. Ours: lines, {seconds:g} s each, seed 1; the model data file gzipped, "
        "its PSNR that of the model it holds. Primitive: triangles (-m 1), its SVG gzipped, the PSNR of its "
        "picture; at our bytes, between its two nearest counts (linear in log bytes).\n",
    ]
    print("\n".join(parts), flush=True)
    header, rows = bench_web(photos[:1] if args.quick else photos, args.primitive, seconds, configs, keep=args.keep)
    parts.append(table("Bytes per image against PSNR", header, rows))
    print(parts[-1], flush=True)
    parts.append(table("The viewer", *bench_viewer(3 if args.quick else 10)))
    print(parts[-1], flush=True)
    path = _save(args.save, "-web", "\n".join(parts))
    if path:
        plot = path[: -len(".md")] + ".svg"
        with open(plot, "w") as f:
            f.write(web_plot(rows))
        print(f"plot: {plot}", file=sys.stderr)
    return 0


def _main_quality(args):
    photos = args.photos or [str(ROOT / name) for name in QUALITY_PHOTOS]
    if args.quick:
        header, rows = bench_quality(photos[:2], QUALITY_TYPES, [2, 4], 1.0, [0.5, 1.0], longest_side=32)
    else:
        header, rows = bench_quality(photos, args.types, QUALITY_NS, 60.0, [10, 30, 60])
    parts = [
        f"## scalefree quality, {datetime.date.today()}\n",
        f"Machine: {machine()}. Default settings, seed 0, one run each; setting up (placing "
        f"the dividers) counts against the time. "
        f"Photos at {'32' if args.quick else 'their own size (the bundled ones: 256'} px on the longer side"
        f"{'' if args.quick else ')'}.\n",
        table("PSNR (dB) against training time", header, rows),
        table("PSNR at the last mark against N (mean over the photos)", *quality_curve(rows)),
    ]
    for part in parts:
        print(part, flush=True)
    _save(args.save, "-quality", "\n".join(parts))
    return 0


def _save(directory, suffix, report):
    if directory:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{datetime.date.today()}{suffix}.md")
        with open(path, "w") as f:
            f.write(report)
        print(f"saved to {path}", file=sys.stderr)
        return path
    return None


if __name__ == "__main__":
    sys.exit(main())
