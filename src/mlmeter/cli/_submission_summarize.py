"""``mlmeter submission summarize TREE...``: the results table of submission trees.

One row per system x benchmark x scenario (inference) and per system x benchmark
(training), in the shape of MLPerf's published tables; training results are the olympic
score in minutes as the official result summarizer computes it. ``--format csv``,
``json``, ``md`` or ``html`` (default: from the ``-o`` suffix; ``md`` on stdout). A TREE is
a folder or an archive (``.tar``, ``.tar.gz``, ``.zip``), unpacked safely.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from mlmeter.errors import UsageError
from mlmeter.logfmt import atomic_write_text
from mlmeter.reporting._submission_export import TABLE_EXPORTERS, get_table_exporter
from mlmeter.reporting._submission_table import build_table
from mlmeter.submission._archive import open_tree
from mlmeter.submission._loader import load_tree
from mlmeter.submission._model import Tree


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``submission summarize``."""
    p.add_argument("trees", nargs="+", metavar="TREE", help="a submission tree or its archive")
    p.add_argument(
        "--format",
        default=None,
        choices=list(TABLE_EXPORTERS),
        help="csv, json, md or html (default: from the -o suffix; md on stdout)",
    )
    p.add_argument("-o", "--output", default=None, help="the file to write (default: stdout)")


def run(args: argparse.Namespace) -> int:
    """Load every tree, build the table, write it in the chosen format."""
    exporter = get_table_exporter(args.format, args.output)
    out = None if args.output in (None, "-") else Path(args.output)
    if out is not None and not out.parent.is_dir():
        raise UsageError(f"-o {out}: the folder {out.parent} does not exist: create it first")
    with ExitStack() as stack:
        trees = [_load(stack, Path(t)) for t in args.trees]
        for given, tree in zip(args.trees, trees, strict=True):
            _warn_problems(given, tree)
        table = build_table(trees, sources=args.trees)
        text = exporter.render(table)
    if out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out, text)
        print(f"wrote {out} ({exporter.name}, {len(table.rows)} rows)", file=sys.stderr)
    return 0


def _load(stack: ExitStack, path: Path) -> Tree:
    """A folder is read in place; an archive is unpacked safely for as long as ``stack``."""
    if not path.exists():
        raise UsageError(f"{path}: no such tree; give a submission folder or archive")
    return load_tree(stack.enter_context(open_tree(path)))


def _warn_problems(given: str, tree: Tree) -> None:
    if tree.problems:
        n = len(tree.problems)
        print(
            f"note: {given}: {n} file(s) could not be read (left out of the table); "
            f"run `mlmeter submission check {given}` for the details",
            file=sys.stderr,
        )
