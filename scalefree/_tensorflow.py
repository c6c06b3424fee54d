"""TensorFlow and Keras, imported with their native symbols kept private.

TensorFlow loads its core library with RTLD_GLOBAL so that custom-op
libraries can link against it. Its exported symbols (its own LLVM among them)
then take precedence over those of every library loaded later, and Mesa's
OpenGL driver, loaded when the preview window opens, crashed in its first
draw calls. scalefree loads no custom ops, so it asks for RTLD_LOCAL instead.
Every module here imports TensorFlow through this one.
"""

import os
import sys

if "tensorflow" not in sys.modules and hasattr(sys, "setdlopenflags"):
    _set_flags = sys.setdlopenflags
    sys.setdlopenflags = lambda flags: _set_flags(flags & ~os.RTLD_GLOBAL)
    try:
        import tensorflow as tf
    finally:
        sys.setdlopenflags = _set_flags
else:
    import tensorflow as tf

import keras  # noqa: E402

__all__ = ["keras", "tf"]
