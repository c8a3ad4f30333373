"""``mlmeter submission package RUN_DIR... --org ORG --division D --system NAME -o TREE``."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlmeter.submission._model import DIVISIONS
from mlmeter.submission._package import DEFAULT_ROUND, package


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``package``."""
    p.add_argument(
        "run_dirs",
        nargs="+",
        type=Path,
        metavar="RUN_DIR",
        help="folders written by `mlmeter run --output` or `mlmeter train --output`",
    )
    p.add_argument("--org", required=True, help="the submitting organisation (folder name)")
    p.add_argument("--division", required=True, help=f"one of {', '.join(DIVISIONS)}")
    p.add_argument("--system", required=True, help="the system name (systems/<NAME>.json)")
    p.add_argument(
        "--round", default=None, help=f"the rules round to record (default {DEFAULT_ROUND})"
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="the tree to write")
    p.add_argument("--force", action="store_true", help="replace a tree packaged before")


def run(args: argparse.Namespace) -> int:
    """Package, then print the tree and one line per packaged result."""
    result = package(
        args.run_dirs,
        args.output,
        org=args.org,
        division=args.division,
        system=args.system,
        round_name=args.round,
        force=args.force,
    )
    print(f"tree: {result.root}")
    for item in result.items:
        print(f"  {item.line(result.root)}")
    return 0
