"""The one place that names output files."""

import os

FRAMES_METADATA = "frames.jsonl"


def run_name(image_name, config):
    """e.g. 'astronaut_linear_128d_32h': image, divider type, N and M."""
    stem = os.path.splitext(os.path.basename(image_name))[0] or "image"
    return f"{stem}_{config.type}_{config.n_dividers}d_{config.n_hidden}h"


def checkpoint_path(output_dir, image_name, config):
    return os.path.join(output_dir, run_name(image_name, config) + ".pkl")


def frame_path(frames_dir, image_name, config, cycle):
    # Zero-padded so that a plain sort of the names is cycle order.
    return os.path.join(frames_dir, f"{run_name(image_name, config)}_cycle-{cycle:08d}.png")


def frames_metadata_path(frames_dir):
    return os.path.join(frames_dir, FRAMES_METADATA)


def render_path(output_dir, image_name, config, mult, border):
    return os.path.join(output_dir, f"{run_name(image_name, config)}_x{mult:g}_b{border:g}.png")
