"""One render in a process of its own, so its peak memory is its own: python -m bench.render_child MODEL SIDE.

Prints the seconds the render took and its height and width.
"""

import sys
import time

import scalefree


def main(model, side):
    model = scalefree.load(model)
    h, w = model.size
    started = time.perf_counter()
    picture = model.render(scale=side / max(h, w))
    print(time.perf_counter() - started, picture.shape[0], picture.shape[1])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
