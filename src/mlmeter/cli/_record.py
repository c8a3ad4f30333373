"""``--db`` and ``--no-record``: where ``mlmeter run`` and ``mlmeter train`` record results."""

from __future__ import annotations

import argparse


def add_record_options(p: argparse.ArgumentParser) -> None:
    """The two flags every command that records a result takes."""
    p.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="results database: a path, sqlite:///PATH or postgresql://... "
        "(default $MLMETER_DB, else ~/.local/share/mlmeter/results.db)",
    )
    p.add_argument(
        "--no-record", action="store_true", help="do not record the result in the database"
    )
