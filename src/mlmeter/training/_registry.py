"""Training workloads by name, from the entry-point group ``mlmeter.training``."""

from __future__ import annotations

from importlib.metadata import entry_points

from mlmeter.errors import UsageError
from mlmeter.training._workload import TrainingWorkload

GROUP = "mlmeter.training"


def training_workload_names() -> list[str]:
    """Registered training workload names, without importing them."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def get_training_workload(name: str) -> TrainingWorkload:
    """An instance of the training workload called ``name``."""
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise UsageError(f"unknown training workload {name!r}: use one of {known}")
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise UsageError(
            f"training workload {name!r} needs extra packages ({exc.name or exc}): "
            "install mlmeter[workloads]"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, TrainingWorkload)):
        raise UsageError(f"entry point {name!r} in {GROUP} is not a TrainingWorkload")
    workload: TrainingWorkload = cls()
    return workload
