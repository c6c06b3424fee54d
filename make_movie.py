#!/usr/bin/env python
"""Stitch the frames of one or more training runs into a video; see --help."""

import sys

from scalefree.cli.commands import make_movie

if __name__ == "__main__":
    sys.exit(make_movie(prog="make_movie.py"))
