"""``mlmeter submission check TREE [--round R] [--json]``: check a submission tree.

TREE is a folder or an archive (``.tar``, ``.tar.gz``, ``.zip``; unpacked safely). Every
check returns findings (severity, code, path, message); they are printed grouped by
severity, or with ``--json`` as one JSON list on stdout. Exit status 1 when any finding
is an error, 0 otherwise. The rules are those of ``--round`` (a shipped round such as
``6.0`` or ``dev``, or a ``.toml`` file), else of the round the tree's
``mlmeter_submission.json`` names, else of the latest official round.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlmeter.rules import available_rounds
from mlmeter.submission._check import check_tree


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``submission check``."""
    p.add_argument("tree", metavar="TREE", help="a submission tree or its archive")
    p.add_argument(
        "--round",
        default=None,
        metavar="NAME|PATH",
        help=f"the rules to apply: {', '.join(available_rounds())}, or a .toml file "
        "(default: the tree's round, else the latest official)",
    )
    p.add_argument("--json", action="store_true", help="print the findings as a JSON list")


def run(args: argparse.Namespace) -> int:
    """Check the tree, print the findings; 1 on any error, else 0."""
    findings = check_tree(Path(args.tree), args.round)
    print(findings.to_json() if args.json else findings.render())
    return 0 if findings.ok else 1
