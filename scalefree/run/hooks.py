"""What a training run does after each cycle, one small callable each: `hook(result, model)`.

`model` is the model as the cycle left it, with its training state. Training
(training.py) logs the cycle's line and then calls its hooks in order: the
checkpoint first, so a failing frame or window never costs the model.
"""

import json
import os

import numpy as np

from ..formats import checkpoint, paths
from ..formats.atomic import OutputError
from ..formats.images import write_image
from .run import quoted


class CheckpointWriter:
    """Saves the model, atomically, after every cycle; remembers which cycle is on disk."""

    def __init__(self, path):
        self.path = path
        self.saved_cycle = None

    def __call__(self, result, model):
        checkpoint.write(model, self.path)
        self.saved_cycle = model.training.cycle


class FrameWriter:
    """A PNG per cycle at -x and -b in the frames folder, and a line for it in frames.jsonl.

    Frames draw the partition (as the SVG and the page do): a few
    milliseconds, where the network's own function at every pixel would cost
    as much as an epoch.
    """

    def __init__(self, run):
        self.run = run
        self.written = 0

    def __call__(self, result, model):
        r, c = self.run, self.run.config
        path = paths.frame_path(r.frames_dir, r.name, result.cycle)
        write_image(r.render(model, c.disp_mult, c.border, hard=True), path)
        record = {"file": os.path.basename(path), **vars(result), "parameters": c.to_dict()}
        metadata = paths.frames_metadata_path(r.frames_dir)
        try:
            with open(metadata, "a") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            raise OutputError(f"cannot write {quoted(metadata)}: {err.strerror or err}") from None
        self.written += 1


class PreviewSender:
    """Hands the window the picture at the training size, a status line and the dividers to draw."""

    def __init__(self, run, mailbox):
        self.run, self.mailbox = run, mailbox

    def __call__(self, result, model):
        from .window import status_line

        size = self.run.size
        picture = model.render(hard=True, size=size)
        segments = None
        if model.has_partition:
            segments = np.concatenate([group.segments(*size) for group in model.dividers])
        self.mailbox.put((picture, status_line(result), segments))
