#!/usr/bin/env python
"""Learn an image with N lines or circles; see README.md or --help."""

import sys

from scalefree.app import main

if __name__ == "__main__":
    sys.exit(main())
