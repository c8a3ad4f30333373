"""Command groups (``mlmeter submission ...``, ``mlmeter storage ...``): one module per
sub-subcommand, each with ``add_arguments(p)`` and ``run(args) -> int``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any


def add_group(
    sub: Any, name: str, help_text: str, doc: str, commands: Sequence[tuple[str, str, str]]
) -> None:
    """Register group ``name`` with one sub-parser per ``(command, module, help)``."""
    p = sub.add_parser(name, help=help_text, description=doc)
    inner = p.add_subparsers(dest=f"{name}_command", required=True)
    for command, module, text in commands:
        q = inner.add_parser(command, help=text, description=text)
        importlib.import_module(module).add_arguments(q)
        q.set_defaults(func=_runner(module))


def _runner(module: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        code: int = importlib.import_module(module).run(args)
        return code

    return run
