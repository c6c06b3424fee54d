"""The training loop under a tf.distribute strategy, on two logical CPU devices."""

import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT
from processes import Process

from scalefree.run import cluster as distribute

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/tests")
    from scalefree.nn._tensorflow import tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from conftest import half_planes_image
    from scalefree.config import Config
    from scalefree.nn.trainer import Trainer
    from scalefree.plane.pictures import psnr
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    t = Trainer(Config(n_dividers=3, n_hidden=16, seed=0), half_planes_image(), strategy=strategy)
    before = psnr(t.evaluate())
    for _ in range(30):
        t.train_epoch()
    print(strategy.num_replicas_in_sync, before, psnr(t.evaluate()))
""")


def test_training_runs_data_parallel_under_mirrored_strategy():
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    replicas, before, after = result.stdout.split()[-3:]
    assert int(replicas) == 2
    assert float(after) > float(before) + 5


def quiet_ports(n):
    """n free ports of this host, outside the kernel's range for outgoing connections.

    The workers' gRPC servers must bind them after the test has chosen them
    (TensorFlow's server does not share a port, so the test cannot hold
    them). Ports below the ephemeral range are never handed to a connection
    in between, only to a program that asks for one by number.
    """
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except OSError:
        low = 32768
    rng = random.Random()
    ports = []
    while len(ports) < n:
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


@contextlib.contextmanager
def cluster_of(command, n=2):
    """`command` started as n workers of one cluster on this host, each told its place by TF_CONFIG."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in quiet_ports(n)]}
    workers = []
    try:
        for index in range(n):
            task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(task), "PYTHONFAULTHANDLER": "1"}
            workers.append(Process(command, env=env))
        yield workers
    finally:
        for w in workers:
            w.kill()


def test_two_local_workers_each_hold_half_the_rows_and_train_as_one_process_does(tmp_path):
    from conftest import half_planes_image
    from PIL import Image

    from scalefree.formats import checkpoint

    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    # The same global batch (256) and seed: each worker draws its half of every batch from its own rows.
    args = ["-i", str(image), "-d", "4", "-n", "6", "-c", "3", "--seed", "0", "--no_display"]
    run = [sys.executable, str(ROOT / "image_learn.py"), *args]
    with cluster_of([*run, "--strategy", "multiworker", "--output_dir", str(tmp_path / "cluster")]) as workers:
        said = [w.finish(timeout=300) for w in workers]
    for code, _, err in said:
        assert code == 0, err[-3000:]
        assert err == ""  # quiet: no TensorFlow line in a cluster either (cuInit, eager warnings)
    assert "model saved to" in said[0][1] and "the chief saves the model" in said[1][1]
    assert "holding rows 0-15 of the training picture's 32 (50% of its pixels)" in said[0][1]
    assert "holding rows 16-31 of the training picture's 32 (50% of its pixels)" in said[1][1]
    # Both workers report the same PSNR each cycle: it is measured over both halves together.
    figures = [re.findall(r"^cycle\s+\d+\s+loss \S+\s+PSNR\s+(\S+)", out, re.M) for _, out, _ in said]
    assert len(figures[0]) == 3 and figures[0] == figures[1], figures
    alone = subprocess.run([*run, "--output_dir", str(tmp_path / "alone")], capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr[-2000:]
    name = "planes_32x32_linear_4d_6h.pkl"
    together, single = (checkpoint.read(tmp_path / d / name) for d in ("cluster", "alone"))
    assert together.training.epoch == single.training.epoch == 3
    # Other batches, the same learning: the models draw the photo about as well.
    mine, theirs = (m.training.history.cycles[-1].psnr for m in (together, single))
    assert abs(mine - theirs) < 1.5, (mine, theirs)
    assert float(figures[0][-1]) == pytest.approx(mine, abs=0.01)


def test_a_cluster_keeps_its_threads_few_however_many_steps_it_takes(tmp_path):
    """TensorFlow's timeout on each collective operation kept a thread alive for the whole timeout of each:
    a cluster made hundreds a second until it could make no more (15,000 threads, then an abort)."""
    import time

    from conftest import half_planes_image
    from PIL import Image

    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    # 64 steps an epoch, thousands of collective operations in a few seconds.
    args = ["-i", str(image), "-d", "4", "-n", "4", "--batch_size", "16", "-e", "60", "-c", "1", "--seed", "0"]
    run = [sys.executable, str(ROOT / "image_learn.py"), *args, "--no_display", "--strategy", "multiworker"]
    most = 0
    with cluster_of([*run, "--output_dir", str(tmp_path)]) as workers:
        deadline = time.monotonic() + 300
        while any(w.proc.poll() is None for w in workers) and time.monotonic() < deadline:
            for w in workers:
                with contextlib.suppress(OSError):
                    most = max(most, len(os.listdir(f"/proc/{w.pid}/task")))
            time.sleep(0.2)
        said = [w.finish(timeout=60) for w in workers]
    for code, out, err in said:
        assert code == 0, err[-3000:]
        assert re.search(r"^cycle\s+1\b", out, re.M), out
    assert 0 < most < 1000, most


@pytest.mark.parametrize("signalled", [0, 1])  # the person at the terminal may be at any worker's
def test_ctrl_c_on_any_worker_stops_every_worker_after_the_same_epoch(tmp_path, signalled):
    from scalefree.formats import checkpoint

    with cluster_of(planes_command(tmp_path, "-c", "0")) as workers:
        workers[signalled].wait_for(r"^cycle\s+1\b")
        workers[signalled].signal(signal.SIGINT)
        said = [w.finish() for w in workers]
    for code, _, err in said:
        assert code == 0, err[-2000:]
    for index, (_, out, _) in enumerate(said):
        assert ("stopped after" if index == signalled else "stopped with the other workers after") in out
    assert "model saved to" in said[0][1]
    cycles = [[line for line in out.splitlines() if line.startswith("cycle")][-1].split()[1] for _, out, _ in said]
    assert cycles[0] == cycles[1]
    assert checkpoint.read(tmp_path / "planes_32x32_linear_4d_4h.pkl").training.cycle == int(cycles[0])


def test_the_workers_of_a_cluster_share_a_seed_when_none_is_given(monkeypatch):
    cluster = {"worker": ["localhost:12345", "localhost:12346"]}
    seeds = []
    for index in (0, 1):
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        seeds.append(distribute.shared_seed("multiworker"))
    assert seeds[0] == seeds[1] and isinstance(seeds[0], int)
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["otherhost:1"]}, "task": {"type": "worker", "index": 0}})
    )
    assert distribute.shared_seed("multiworker") != seeds[0]
    assert distribute.shared_seed("default") is None and distribute.shared_seed("mirrored") is None


def test_the_command_line_trains_under_mirrored_strategy(tmp_path):
    from conftest import half_planes_image
    from PIL import Image

    from scalefree.formats import checkpoint

    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    command = [sys.executable, str(ROOT / "image_learn.py"), "-i", str(image), "-d", "4", "-n", "4", "-c", "2"]
    result = subprocess.run(
        [*command, "--strategy", "mirrored", "--no_display", "--output_dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # quiet: TensorFlow's own lines only with --verbose
    assert re.search(r"^training data-parallel on \d+ replicas? \(mirrored\)$", result.stdout, re.M), result.stdout
    assert "model saved to" in result.stdout
    assert checkpoint.read(tmp_path / "planes_32x32_linear_4d_4h.pkl").training.cycle == 2


def planes_command(tmp_path, *extra):
    from conftest import half_planes_image
    from PIL import Image

    image = tmp_path / "planes.png"
    if not image.exists():
        Image.fromarray(half_planes_image(32)).save(image)
    command = [sys.executable, str(ROOT / "image_learn.py"), "-i", str(image), "-d", "4", "-n", "4", *extra]
    return [*command, "--no_display", "--strategy", "multiworker", "--output_dir", str(tmp_path)]


def alone_in(cluster, index, command):
    """`command` as one process of `cluster` (a dict of job lists), the others never started."""
    env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
    return Process(command, env=env)


def test_a_worker_that_never_comes_is_said_and_given_up_on(tmp_path):
    ports = quiet_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    with alone_in(cluster, 0, planes_command(tmp_path, "-c", "2", "--cluster_timeout", "12")) as chief:
        chief.wait_for(rf"^waiting \d+ s for worker 1 at 127.0.0.1:{ports[1]} \(giving up at 12 s\)$")
        code, out, err = chief.finish(timeout=120)
    assert code == 2, err
    line = rf"the cluster did not form in 12 s \(--cluster_timeout\): no answer from worker 1 at 127.0.0.1:{ports[1]}"
    assert re.fullmatch(rf"image_learn.py: error: {line}; \S+planes_32x32_linear_4d_4h.pkl holds cycle 0\n", err), err
    assert f"joining the cluster as worker 0 of 2 (127.0.0.1:{ports[0]}, 127.0.0.1:{ports[1]})" in out


def test_workers_given_different_photos_of_one_name_stop_in_one_line(tmp_path):
    """A host may hold another file under the photo's path: each worker would train on its own picture."""
    import numpy as np
    from PIL import Image

    ports = quiet_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(other / "planes.png")
    chief_command = planes_command(tmp_path, "-c", "2", "--seed", "0")
    worker_command = [str(other / "planes.png") if a.endswith("planes.png") else a for a in chief_command]
    with alone_in(cluster, 0, chief_command) as chief, alone_in(cluster, 1, worker_command) as worker:
        said = [chief.finish(timeout=300), worker.finish(timeout=300)]
    for (code, _out, err), whose in zip(said, ["a worker's", "this worker's"]):
        assert code == 2 and "Traceback" not in err, err
        line = rf"{whose} photo is not the chief's \(planes.png, SHA-256 [0-9a-f]{{12}}...\): every worker must learn"
        assert re.fullmatch(rf"image_learn.py: error: {line} the same photo; .*\n", err), err
    assert "holds cycle 0" in said[0][2] and "the chief keeps the checkpoint" in said[1][2]


def test_a_stop_signal_while_the_cluster_forms_is_honoured_at_once(tmp_path):
    from scalefree.formats import checkpoint

    cluster = {"worker": [f"127.0.0.1:{p}" for p in quiet_ports(2)]}
    with alone_in(cluster, 0, planes_command(tmp_path, "-c", "2", "--cluster_timeout", "0")) as chief:
        chief.wait_for(r"^joining the cluster as worker 0 of 2")
        chief.signal(signal.SIGTERM)
        code, out, err = chief.finish(timeout=60)
    assert code == 0 and err == "", err
    assert "stopped before training" in out
    assert checkpoint.read(tmp_path / "planes_32x32_linear_4d_4h.pkl").training.cycle == 0


@pytest.mark.parametrize(
    "task, pattern",
    [
        (
            {"type": "worker", "index": 2},
            r"TF_CONFIG puts this process at worker 2, but its cluster has 2 workers \(0 to 1\)",
        ),
        ({"type": "ps", "index": 0}, r"TF_CONFIG's task is a 'ps', but its cluster has no 'ps' job \(worker\)"),
    ],
)
def test_a_place_outside_the_cluster_is_one_line_before_tensorflow(tmp_path, task, pattern):
    cluster = {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}
    env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": task})}
    result = subprocess.run(planes_command(tmp_path, "-c", "1"), env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "loading TensorFlow" not in result.stdout
    assert re.fullmatch(rf"image_learn.py: error: {pattern}\n", result.stderr), result.stderr


def test_an_address_that_does_not_resolve_is_one_line_within_the_timeout(tmp_path):
    cluster = {"worker": ["127.0.0.1:2222", "no-such-host.invalid:2223"]}
    env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})}
    command = planes_command(tmp_path, "-c", "1", "--cluster_timeout", "20")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "loading TensorFlow" not in result.stdout
    pattern = r"TF_CONFIG's worker 1 address no-such-host.invalid:2223 does not resolve: .+"
    assert re.fullmatch(rf"image_learn.py: error: {pattern}\n", result.stderr), result.stderr


def test_a_killed_worker_is_named_and_the_same_commands_resume_the_run(tmp_path):
    from scalefree.formats import checkpoint

    command = planes_command(tmp_path, "-c", "0", "-e", "2", "--cluster_timeout", "30")
    with cluster_of(command) as (chief, other):
        chief.wait_for(r"^cycle\s+2\b")
        other.kill()  # SIGKILL: no goodbye
        code, out, err = chief.finish(timeout=180)
    assert code == 2, err
    saved = checkpoint.read(tmp_path / "planes_32x32_linear_4d_4h.pkl").training
    lost = r"the cluster lost worker 1 at 127.0.0.1:\d+ \(is gone; --cluster_timeout 30 s\)"
    assert re.fullmatch(rf"image_learn.py: error: {lost}; \S+ holds cycle {saved.cycle}\n", err), err
    assert saved.cycle >= 2
    # The same commands again (one cycle more, as a scheduler would start them): the run goes on.
    # Worker 1 is given a folder of its own, as on a host that does not see the chief's files.
    again = [("1" if a == "0" and b == "-c" else a) for b, a in zip(["", *command], command)]
    elsewhere = [(str(tmp_path / "elsewhere") if b == "--output_dir" else a) for b, a in zip(["", *again], again)]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in quiet_ports(2)]}
    with alone_in(cluster, 0, again) as chief, alone_in(cluster, 1, elsewhere) as other:
        (code, out, err), (other_code, other_out, other_err) = chief.finish(timeout=300), other.finish(timeout=300)
    assert code == 0 and other_code == 0 and err == other_err == "", err + other_err
    assert f"resuming at cycle {saved.cycle}" in out and "learning planes.png" in other_out
    assert re.search(rf"^cycle\s+{saved.cycle + 1}\b", out, re.M), out
    # Worker 1 took the chief's weights: every cycle's loss and PSNR are the chief's.
    figures = [re.findall(r"^cycle\s+\d+\s+(loss .* dB)", text, re.M) for text in (out, other_out)]
    assert figures[0] and figures[0] == figures[1], figures
    assert checkpoint.read(tmp_path / "planes_32x32_linear_4d_4h.pkl").training.epoch > saved.epoch
