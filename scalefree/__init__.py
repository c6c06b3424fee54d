"""scalefree: approximate an image by cutting the plane with N lines or circles.

The public names load lazily, so that importing the package (as the CLI does
for --help) does not start TensorFlow.
"""

__version__ = "0.5.0"

_EXPORTS = {
    "Config": "config",
    "LineLayer": "layers",
    "CircleLayer": "layers",
    "sharp_sign": "layers",
    "build_model": "model",
    "Trainer": "train",
    "Checkpoint": "checkpoint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scalefree' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
