#!/usr/bin/env bash
# Installs what scalefree needs on a fresh Debian/Ubuntu machine.
#   bash scripts/setup.sh         the tool: Python packages, OpenGL libraries for the window
#   bash scripts/setup.sh --dev   also what the tests use: pytest, Xvfb, xdotool, CairoSVG, and the
#                                 programs people open our outputs with (Chromium, Inkscape, librsvg, ffmpeg)
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1

# OpenGL for VisPy (EGL works with no screen); fontconfig, without which vispy.scene fails to import.
apt_packages=(libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libglx-mesa0 libfontconfig1)
# For the tests: a virtual screen and key presses for the window, Cairo to rasterise SVG exports,
# and the clients the outputs are checked in: a browser (SVG, the HTML page, video), Inkscape and
# rsvg-convert (SVG), ffprobe (which codec a video holds); esbuild, to check the minified web viewer.
[ "$dev" = 1 ] && apt_packages+=(xvfb xauth xdotool libcairo2 chromium inkscape librsvg2-bin ffmpeg esbuild)

if command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "no apt-get: install OpenGL/EGL libraries yourself for the preview window" >&2
fi

# The checkout itself, installed in place: the `scalefree` and `scalefree-movie`
# commands, and the dependencies that pyproject.toml reads from requirements*.txt.
if [ "$dev" = 1 ]; then
  python -m pip install -q -e ".[dev]"
else
  python -m pip install -q -e .
fi
echo "scalefree $(python -c 'import scalefree; print(scalefree.__version__)') is set up in $(python -c 'import sys; print(sys.prefix)')"
