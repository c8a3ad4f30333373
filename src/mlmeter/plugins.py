"""Extension by entry points: workloads, SUT backends, power meters, exporters.

A package registers e.g. ``[project.entry-points."mlmeter.workloads"] mine = "pkg:factory"``
and ``mlmeter run mine`` finds it without any edit to mlmeter.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

GROUPS = (
    "mlmeter.workloads",
    "mlmeter.training",
    "mlmeter.suts",
    "mlmeter.power_meters",
    "mlmeter.exporters",
)


def discover(group: str) -> dict[str, Any]:
    """Name -> loaded object for every entry point in ``group``."""
    if group not in GROUPS:
        raise ValueError(f"unknown plugin group {group!r}: use one of {', '.join(GROUPS)}")
    return {ep.name: ep for ep in entry_points(group=group)}
