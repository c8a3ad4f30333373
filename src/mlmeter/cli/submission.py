"""``mlmeter submission``: MLPerf submission trees (``package``, ``check``, ``summarize``).

Each sub-subcommand lives in its own module with ``add_arguments(p)`` and ``run(args) ->
int``; ``SUBCOMMANDS`` lists them (see ``cli._group``).
"""

from __future__ import annotations

from typing import Any

from mlmeter.cli._group import add_group

# (name, module, help)
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("package", "mlmeter.cli._submission_package", "build a submission tree from run folders"),
    ("check", "mlmeter.cli._submission_check", "check a tree against a round's rules"),
    ("summarize", "mlmeter.cli._submission_summarize", "the results table of trees"),
)


def add_parser(sub: Any) -> None:
    """Register ``submission`` and its sub-subcommands on the top-level sub-parsers."""
    add_group(sub, "submission", "MLPerf submission trees", __doc__ or "", SUBCOMMANDS)
