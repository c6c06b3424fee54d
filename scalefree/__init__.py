"""scalefree: draw a picture by cutting the plane with N lines or circles, each region one colour.

    import scalefree
    model = scalefree.fit("photo.jpg", dividers=128, shape="lines", seconds=30)
    model.render(scale=4, border=3)      # an (H, W, 3) uint8 array, at any size
    model.save("photo.pkl"); scalefree.load("photo.pkl").to_svg("photo.svg")

The public names load lazily, so that importing the package (as the command
line does for --help) starts neither TensorFlow nor anything heavy.
"""

__version__ = "0.6.0"

_EXPORTS = {
    "fit": "api",
    "load": "api",
    "Model": "model",
    "ColourLayers": "model",
    "TrainingState": "model",
    "Config": "config",
    "UserError": "errors",
    "Lines": "shapes",
    "Circles": "shapes",
    "DenseUnits": "shapes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'scalefree' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)


def __dir__():
    return sorted(list(globals()) + __all__)
