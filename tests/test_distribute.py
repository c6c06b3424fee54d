"""The training loop under a tf.distribute strategy, on two logical CPU devices."""

import json
import os
import signal
import subprocess
import sys
import textwrap

from conftest import ROOT

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


def free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_cluster(command, n=2):
    """`command` started as n workers of one cluster on this host, each told its place by TF_CONFIG."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(n)]}
    workers = []
    for index in range(n):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(task)}
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return workers


def test_two_local_workers_train_the_model_one_process_trains(tmp_path):
    import numpy as np
    from conftest import half_planes_image
    from PIL import Image

    from scalefree.formats import checkpoint

    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    # The same global batch (256) and seed: each worker takes half of every batch.
    args = ["-i", str(image), "-d", "4", "-n", "6", "-c", "3", "--seed", "0", "--no_display"]
    run = [sys.executable, str(ROOT / "image_learn.py"), *args]
    workers = start_cluster([*run, "--strategy", "multiworker", "--output_dir", str(tmp_path / "cluster")])
    said = [w.communicate(timeout=300) for w in workers]
    for w, (_, err) in zip(workers, said):
        assert w.returncode == 0, err[-3000:]
    assert "model saved to" in said[0][0] and "the chief saves the model" in said[1][0]
    alone = subprocess.run([*run, "--output_dir", str(tmp_path / "alone")], capture_output=True, text=True, timeout=300)
    assert alone.returncode == 0, alone.stderr[-2000:]
    name = "planes_32x32_linear_4d_6h.pkl"
    together, single = (checkpoint.read(tmp_path / d / name) for d in ("cluster", "alone"))
    assert together.training.epoch == single.training.epoch == 3
    for a, b in zip(together.weights(), single.weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_ctrl_c_on_the_chief_stops_every_worker_after_the_same_epoch(tmp_path):
    from conftest import half_planes_image
    from PIL import Image

    from scalefree.formats import checkpoint

    image = tmp_path / "planes.png"
    Image.fromarray(half_planes_image(32)).save(image)
    command = [sys.executable, str(ROOT / "image_learn.py"), "-i", str(image), "-d", "4", "-n", "4", "-c", "0"]
    chief, other = start_cluster([*command, "--no_display", "--strategy", "multiworker", "--output_dir", str(tmp_path)])
    while not chief.stdout.readline().startswith("cycle"):
        assert chief.poll() is None, chief.stderr.read()[-2000:]
    chief.send_signal(signal.SIGINT)
    (said, err), (other_said, other_err) = chief.communicate(timeout=120), other.communicate(timeout=120)
    assert chief.returncode == 0 and other.returncode == 0, err[-2000:] + other_err[-2000:]
    assert "stopped after" in said and "stopped with the other workers after" in other_said
    last = [line for line in other_said.splitlines() if line.startswith("cycle")][-1]
    assert checkpoint.read(tmp_path / "planes_32x32_linear_4d_4h.pkl").training.cycle == int(last.split()[1])


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
