"""``mlmeter storage``: MLPerf Storage (datasize, datagen, run, checkpoint).

Each sub-subcommand lives in its own module with ``add_arguments(p)`` and ``run(args) ->
int``; ``SUBCOMMANDS`` lists them (see ``cli._group``).
"""

from __future__ import annotations

from typing import Any

from mlmeter.cli._group import add_group

# (name, module, help)
SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("datasize", "mlmeter.cli._storage_datasize", "the official minimum dataset size"),
    ("datagen", "mlmeter.cli._storage_datagen", "generate a seeded synthetic dataset"),
    ("run", "mlmeter.cli._storage_run", "emulated accelerators: AU, samples/s, MB/s"),
    ("checkpoint", "mlmeter.cli._storage_checkpoint", "write and read back model checkpoints"),
)


def add_parser(sub: Any) -> None:
    """Register ``storage`` and its sub-subcommands on the top-level sub-parsers."""
    add_group(sub, "storage", "MLPerf Storage benchmarks", __doc__ or "", SUBCOMMANDS)
