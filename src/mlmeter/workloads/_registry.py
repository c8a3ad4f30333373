"""Workloads by name: built-ins and plugins (entry-point group ``mlmeter.workloads``)."""

from __future__ import annotations

from importlib.metadata import entry_points

from mlmeter.errors import UsageError
from mlmeter.workloads._base import Workload

GROUP = "mlmeter.workloads"


def available() -> dict[str, type[Workload]]:
    """Every registered workload class by name (loading their modules)."""
    out: dict[str, type[Workload]] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except (ImportError, AttributeError):  # optional dependencies missing, or broken
            continue
        if isinstance(cls, type) and issubclass(cls, Workload):
            out[ep.name] = cls
    return dict(sorted(out.items()))


def names() -> list[str]:
    """Registered workload names, without importing them."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def get(name: str) -> Workload:
    """An instance of the workload called ``name``."""
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in eps:
        known = ", ".join(["null", "fixed", *sorted(eps)])
        raise UsageError(f"unknown workload {name!r}: use one of {known} (see `mlmeter list`)")
    cls = eps[name].load()
    workload: Workload = cls()
    return workload
