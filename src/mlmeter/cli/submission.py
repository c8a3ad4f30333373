"""``mlmeter submission``: MLPerf submission trees (``package``, ``check``, ``summarize``).

Each sub-subcommand lives in its own module with ``add_arguments(p)`` and ``run(args) ->
int``; ``SUBCOMMANDS`` lists them, and a module is imported only when its subcommand runs.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# (name, module, help)
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("package", "mlmeter.cli._submission_package", "build a submission tree from run folders"),
    ("check", "mlmeter.cli._submission_check", "check a tree against a round's rules"),
    ("summarize", "mlmeter.cli._submission_summarize", "the results table of trees"),
)


def add_parser(sub: Any) -> None:
    """Register ``submission`` and its sub-subcommands on the top-level sub-parsers."""
    p = sub.add_parser("submission", help="MLPerf submission trees", description=__doc__)
    inner = p.add_subparsers(dest="submission_command", required=True)
    for name, module, text in SUBCOMMANDS:
        q = inner.add_parser(name, help=text, description=text)
        importlib.import_module(module).add_arguments(q)
        q.set_defaults(func=_runner(module))


def _runner(module: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        code: int = importlib.import_module(module).run(args)
        return code

    return run
