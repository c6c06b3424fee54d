#!/bin/sh
# Minify the web viewer: scalefree/data/scalefree-image.js -> scalefree-image.min.js (what pages inline).
# Run after changing the viewer; tests/test_viewer.py checks the two agree. Needs esbuild (Debian: apt install esbuild).
set -e
cd "$(dirname "$0")/../scalefree/data"
esbuild scalefree-image.js --minify --format=esm --target=es2022 --log-level=warning --outfile=scalefree-image.min.js
