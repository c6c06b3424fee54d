#!/usr/bin/env python
"""Learn an image with N lines or circles; see README.md or --help."""

import os
import sys

# TensorFlow's start-up chatter is not for the user of a command-line tool.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from scalefree.app import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
