"""Thin script over ``vessel-studio benchmark`` (logic: ``vessel_studio/adaptation/benchmark.py``).

    python benchmarks/adaptation.py drive-octa500 --preset cpu --seeds 0 1 2

Same arguments as ``vessel-studio benchmark --help``.
"""

import sys

from vessel_studio.cli import main

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
