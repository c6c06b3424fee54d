"""What a training run does after each cycle, one small callable each: `hook(result, trainer)`.

Training (app.py) logs the cycle's line and then calls its hooks in order:
the checkpoint first, so a failing frame or window never costs the model.
"""

import json
import os

from . import paths
from .atomic import OutputError
from .checkpoint import Checkpoint
from .images import write_image
from .run import quoted, render_run


class CheckpointWriter:
    """Saves the run, atomically, after every cycle; remembers which cycle is on disk."""

    def __init__(self, run, history):
        self.run, self.history = run, history
        self.saved_cycle = None

    def __call__(self, result, trainer):
        r = self.run
        Checkpoint(
            config=r.config,
            image=r.image,
            image_name=r.image_name,
            weights=trainer.model.get_weights(),
            cycle=r.cycle,
            epoch=trainer.epoch,
            optimizer=trainer.optimizer_weights(),
            history=self.history,
        ).write(r.checkpoint_path)
        self.saved_cycle = r.cycle


class FrameWriter:
    """A PNG per cycle at -x and -b in the frames folder, and a line for it in frames.jsonl."""

    def __init__(self, run):
        self.run = run
        self.written = 0

    def __call__(self, result, trainer):
        r, c = self.run, self.run.config
        path = paths.frame_path(r.frames_dir, r.name, result.cycle)
        write_image(render_run(r, trainer, c.disp_mult, c.border), path)
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

    def __call__(self, result, trainer):
        from .geometry import divider_segments
        from .window import status_line

        r = self.run
        picture = render_run(r, trainer, 1.0, 0.0, at_training_size=True)
        segments = None
        if r.config.type != "relu":
            dividers = trainer.model.get_layer("dividers").get_weights()
            segments = divider_segments(r.config.type, dividers, *r.size)
        self.mailbox.put((picture, status_line(result), segments))
