"""`python -m scalefree`: the same as the `scalefree` command and image_learn.py."""

import sys

from .cli.commands import image_learn

sys.exit(image_learn(prog="python -m scalefree"))
