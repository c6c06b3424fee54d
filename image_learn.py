#!/usr/bin/env python
"""Learn an image with N lines or circles; see README.md or --help."""

import sys

from scalefree.cli.commands import image_learn

if __name__ == "__main__":
    sys.exit(image_learn(prog="image_learn.py"))
