"""The ``mlmeter`` command: parse, dispatch to a subcommand, report errors in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mlmeter._version import __version__
from mlmeter.cli import dashboard as dashboard_cmd
from mlmeter.cli import list as list_cmd
from mlmeter.cli import power as power_cmd
from mlmeter.cli import report as report_cmd
from mlmeter.cli import results as results_cmd
from mlmeter.cli import run as run_cmd
from mlmeter.cli import serve as serve_cmd
from mlmeter.cli import storage as storage_cmd
from mlmeter.cli import submission as submission_cmd
from mlmeter.cli import suite as suite_cmd
from mlmeter.cli import train as train_cmd
from mlmeter.errors import MlmeterError


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per subcommand."""
    parser = argparse.ArgumentParser(prog="mlmeter", description="MLPerf benchmarks in one tool.")
    parser.add_argument("--version", action="version", version=f"mlmeter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run_cmd.add_parser(sub)
    serve_cmd.add_parser(sub)
    storage_cmd.add_parser(sub)
    list_cmd.add_parser(sub)
    power_cmd.add_parser(sub)
    dashboard_cmd.add_parser(sub)
    report_cmd.add_parser(sub)
    results_cmd.add_parser(sub)
    suite_cmd.add_parser(sub)
    submission_cmd.add_parser(sub)
    train_cmd.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except MlmeterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
