"""The training loop under a tf.distribute strategy, on two logical CPU devices."""

import subprocess
import sys
import textwrap

from conftest import ROOT

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/tests")
    from scalefree._tensorflow import tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from conftest import half_planes_image
    from scalefree.config import Config
    from scalefree.train import Trainer, psnr
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
