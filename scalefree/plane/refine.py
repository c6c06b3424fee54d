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
"""

import multiprocessing
import os

import numpy as np

from .colouring import fit_colour_layers

REFINE_STEPS = 10000
# Not worth a process when the first fit is this close to what the dividers allow (dB).
CLOSE_ENOUGH = 0.2


def _fit(conn, signs, counts, means, m, seed, steps):
    from .regions import RegionTable

    table = RegionTable(signs, counts, means, 0.0, np.zeros(0, np.int32))
    try:
        conn.send(fit_colour_layers(table, m, np.random.default_rng(seed), steps=steps))
    except Exception as err:  # reported, not raised: the first model stands
        conn.send(err)
    finally:
        conn.close()


class Refiner:
    """Fits colour layers to a region table in a child process; `result()` waits for them.

    `seed` is what the first fit's rng was made from (the fit starts again
    from it and goes on for `steps` steps).
    """

    def __init__(self, table, m, seed, steps=REFINE_STEPS):
        context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads
        self._conn, child = context.Pipe(duplex=False)
        arrays = (table.signs, table.counts, table.means)
        # One core for the fit: the other is TensorFlow's.
        saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
        os.environ.update({k: "1" for k in saved})
        try:
            self._process = context.Process(target=_fit, args=(child, *arrays, m, seed, steps), daemon=True)
            self._process.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        child.close()

    def result(self, timeout=None):
        """The fitted (W1, b1, W2, b2), or None if the child failed or did not finish within `timeout` s."""
        try:
            if not self._conn.poll(timeout):
                return None
            got = self._conn.recv()
        except (EOFError, OSError):
            return None
        finally:
            self.close()
        return None if isinstance(got, Exception) else got

    def close(self):
        self._conn.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
