"""One render in a process of its own, so its peak memory is its own: python -m bench.render_child MODEL SIDE.

Prints the seconds the render took and its height and width.
"""

import sys
import tempfile
import time

from scalefree.run import Run, RunOptions, render_run


def main(model, side):
    with tempfile.TemporaryDirectory() as output_dir:
        run = Run(RunOptions(model_file=model, output_dir=output_dir))
        trainer = run.trainer()
        h, w = run.size
        started = time.perf_counter()
        picture = render_run(run, trainer, side / max(h, w), 0.0)
    print(time.perf_counter() - started, picture.shape[0], picture.shape[1])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
