#!/usr/bin/env bash
# Set up Vessel Studio on a fresh Debian machine: system packages for the Qt/napari window
# (Xvfb for headless use), a virtual environment in .venv, CPU torch, the package with dev extras.
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# What Qt's libraries and its X11 platform plugin link to that xvfb does not pull in (Qt 6.5 and newer need
# libxcb-cursor0); without one, Qt cannot load the "xcb" platform plugin and aborts (tests/test_setup_script.py)
need_apt=()
for pkg in xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxkbcommon-x11-0 libegl1 libgl1 xauth \
    libxcb-cursor0 libxcb-image0 libxcb-render-util0 libxcb-shape0 libfontconfig1 libglib2.0-0 libdbus-1-3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: missing system packages (${need_apt[*]}); GUI tests need them: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# Pin torch first: the CPU 2.13.0 wheel (an unpinned torch pulls a multi-GB CUDA build). This
# workplace's pip finds that wheel on disk; elsewhere PyPI's Linux torch is a CUDA build, so set
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu to take the CPU one from PyTorch's index.
python -c "import torch" 2>/dev/null || python -m pip install -q ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
python -m pip install -q -e ".[dev]"
echo "Vessel Studio is set up in $(pwd)/.venv"
