"""``vessel-studio sample-data DIR``: a project of procedural synthetic images to try the app on.

The images come from ``vessel_studio.samples`` (branching, tapering, tortuous vessel trees on a
synthetic fundus or OCTA background). Their true masks are written beside them under
``DIR/samples/labels`` for scoring; they are never added to the project.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vessel_studio.wording import shell_word


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="where to create the project (must not hold one)")
    parser.add_argument("--modality", choices=("fundus", "octa"), default="fundus",
                        help="kind of synthetic images (default %(default)s)")
    parser.add_argument("-n", "--count", type=int, default=6, help="number of images (default 6)")
    parser.add_argument("--size", type=int, default=None, help="image side in px (default 512 fundus, 304 OCTA)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the images (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from vessel_studio.samples import write_sample_project

    shape = (args.size, args.size) if args.size else None
    s = write_sample_project(args.folder, n=args.count, modality=args.modality, seed=args.seed, shape=shape)
    print(f"wrote a {s.modality} sample project with {len(s.images)} images to {args.folder}")
    print(f"true masks (for scoring only): {s.folder / 'labels'}")
    print(f"open it with: vessel-studio gui {shell_word(args.folder)}")
    return 0
