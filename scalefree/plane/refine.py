"""The first model's colour fit, gone on with in another process while TensorFlow loads.

TensorFlow's import keeps one core busy for seconds (4-5 s here) and leaves
the other idle. The colour fit of the first model (scalefree.plane.colouring)
still improves long after the STEPS it is given so that the first picture
comes within a second: on the tuning photos (rose, coffee, rocket; 128 lines
and 32 colour units) 1000 steps end 1.6 to 3.4 dB below the regions' own
colours, REFINE_STEPS steps 0.6 to 1.4 (in 2.5 to 3.8 s on one core). So a
second process, started before the import, fits them REFINE_STEPS steps;
the result is saved as cycle 0 when it is better, and lines train from it
(a run stopped while TensorFlow loads keeps it if it is done). A fixed
number of steps, not a time: a seeded run gives the same model on any
machine.

The process is `python -m scalefree.plane.refine IN OUT`, not a
multiprocessing child: those re-import the caller's main module, which in
a user's script without a main guard would call fit() again.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

from .colouring import fit_colour_layers

REFINE_STEPS = 10000
# Not worth a process when the first fit is this close to what the dividers allow (dB).
CLOSE_ENOUGH = 0.02


class _Table:
    """What the fit reads of a RegionTable."""

    def __init__(self, signs, counts, means):
        self.signs, self.counts, self.means = signs, counts, means


class Refiner:
    """Fits colour layers to a region table in a process of its own; `result()` waits for them.

    `seed` is what the first fit's rng was made from (the fit starts again
    from it and goes on for `steps` steps).
    """

    def __init__(self, table, m, seed, steps=REFINE_STEPS):
        self._folder = tempfile.TemporaryDirectory(prefix="scalefree-refine-")
        self._in = os.path.join(self._folder.name, "table.npz")
        self._out = os.path.join(self._folder.name, "layers.npz")
        seed = np.atleast_1d(np.asarray(seed, np.int64))
        np.savez(self._in, signs=table.signs, counts=table.counts, means=table.means, m=m, seed=seed, steps=steps)
        # One core for the fit: the other is TensorFlow's.
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, self._in, self._out],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C at the terminal is the run's to handle, not this helper's
        )

    def result(self, timeout=None):
        """The fitted (W1, b1, W2, b2), or None if the fit failed or did not end within `timeout` s."""
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.close()
        return self._layers

    def close(self):
        """Stop the fit if it is still going; keep what it wrote."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._layers = None
        if self._process.returncode == 0:
            try:
                with np.load(self._out) as saved:
                    self._layers = tuple(saved[k] for k in ("w1", "b1", "w2", "b2"))
            except (OSError, KeyError, ValueError):
                pass
        self._folder.cleanup()


def _main(source, target):
    with np.load(source) as saved:
        table = _Table(saved["signs"], saved["counts"], saved["means"])
        m, seed, steps = int(saved["m"]), [int(s) for s in saved["seed"]], int(saved["steps"])
    w1, b1, w2, b2 = fit_colour_layers(table, m, np.random.default_rng(seed), steps=steps)
    partial = target + ".part"
    with open(partial, "wb") as f:
        np.savez(f, w1=w1, b1=b1, w2=w2, b2=b2)
    os.replace(partial, target)


if __name__ == "__main__":
    _main(*sys.argv[1:3])
