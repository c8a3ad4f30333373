"""The results store's records and the interface every backend implements.

One ``RunRow`` per scored result: an ``mlmeter run`` (one scenario of one benchmark), an
``mlmeter train`` benchmark (its olympic score), or one row of an imported tree (a
submission or a published MLCommons results repository).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

KINDS = ("inference", "training")
SOURCES = ("run", "train", "import")


@dataclass(frozen=True)
class RunRow:
    """One stored result."""

    id: int
    recorded_at: str  # UTC, ISO 8601 with "Z", when it was stored
    source: str  # run | train | import
    kind: str  # inference | training
    division: str  # closed | open | network ("" when unknown)
    org: str  # submitter ("" for a local run)
    system: str  # system name (system_name of the description, else the system id)
    benchmark: str  # resnet50, llama2-70b-99, resnet, ... (mlperf names), or the workload
    scenario: str  # SingleStream | MultiStream | Server | Offline; "" for training
    metric: str  # e.g. "result_samples_per_second", "time_to_train_minutes"
    value: float | None
    unit: str  # samples/s, tokens/s, ms, minutes
    valid: bool
    higher_is_better: bool
    accelerator: str = ""  # accelerator_model_name ("" or "N/A" for CPU-only)
    accelerators: int = 0  # accelerators in the system (per node x nodes)
    run_at: str = ""  # when the run itself happened (its logs' date), UTC ISO
    path: str = ""  # where its logs are (folder), as recorded
    tool_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # latencies, settings, samples


@dataclass(frozen=True)
class RunFilter:
    """Which rows ``runs`` returns; empty fields match everything."""

    kind: str = ""
    source: str = ""
    division: str = ""
    org: str = ""
    system: str = ""  # substring match, case-insensitive
    benchmark: str = ""
    scenario: str = ""
    valid_only: bool = False
    limit: int = 0  # 0: no limit; newest first


@dataclass(frozen=True)
class Delta:
    """One benchmark x scenario x system compared between two sets of runs."""

    key: tuple[str, str, str]  # (system, benchmark, scenario)
    unit: str
    higher_is_better: bool
    a: tuple[float, ...]  # the values on each side
    b: tuple[float, ...]
    change: float | None  # (mean b - mean a) / mean a; None when a side is empty
    noise: float | None  # run-to-run noise (relative), None without repeat runs
    significant: bool | None  # |change| > noise; None when noise is unknown
    better: bool | None  # b is better than a (by higher_is_better), None if no change


class Store(Protocol):
    """A results database: SQLite by default, PostgreSQL by URL."""

    url: str

    def add(self, rows: Sequence[RunRow]) -> list[int]:
        """Insert rows (their ``id`` is ignored) in one transaction; their new ids."""
        ...

    def runs(self, where: RunFilter = RunFilter()) -> list[RunRow]:
        """Rows matching ``where``, newest first."""
        ...

    def get(self, run_id: int) -> RunRow | None:
        """One row by id."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...
