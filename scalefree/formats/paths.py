"""The one place that names output files."""

import os

DEFAULT_OUTPUT_DIR = "output"
FRAMES_METADATA = "frames.jsonl"


def run_name(image_name, config, size):
    """e.g. 'astronaut_256x256_linear_128d_32h': image, training size, divider type, N and M.

    The training size is in the name because it changes what is learnt: the
    same photo at another -p is another model, not the same one to replace.
    """
    stem = os.path.splitext(os.path.basename(image_name))[0] or "image"
    height, width = size
    return f"{stem}_{width}x{height}_{config.type}_{config.n_dividers}d_{config.n_hidden}h"


def checkpoint_path(output_dir, image_name, config, size):
    return os.path.join(output_dir, run_name(image_name, config, size) + ".pkl")


def data_path(checkpoint):
    """The model data file a run with --max_bytes writes beside its checkpoint."""
    return os.path.splitext(checkpoint)[0] + ".sfm"


def frame_path(frames_dir, name, cycle):
    # Zero-padded so that a plain sort of the names is cycle order.
    return os.path.join(frames_dir, f"{name}_cycle-{cycle:08d}.png")


def frames_metadata_path(frames_dir):
    return os.path.join(frames_dir, FRAMES_METADATA)


def render_path(output_dir, name, mult, border):
    return os.path.join(output_dir, f"{name}_x{mult:g}_b{border:g}.png")


def sketch_path(output_dir, name):
    """The first picture of a new run: its placed dividers' regions in their mean colours."""
    return os.path.join(output_dir, f"{name}_sketch.png")
