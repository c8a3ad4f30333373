"""What a training log claims: the official benchmark, its ruleset, target and cadence.

Our reference workloads are not the official models and data, so they log under the
*open* division by default (open rules require the same evaluation metric, not the same
model); their logs still carry every key the closed rules make mandatory, so a
user's closed-division implementation of the same benchmark logs the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

Progress: TypeAlias = Literal["epoch", "samples"]
Division: TypeAlias = Literal["closed", "open"]

DIVISIONS: tuple[str, ...] = ("closed", "open")
# The per-log submission_status vocabulary, required by rulesets before 6.0.0.
SUBMISSION_STATUSES: tuple[str, ...] = ("onprem", "cloud", "preview", "research")


@dataclass(frozen=True)
class BenchmarkSpec:
    """The official benchmark a training log is written as, and how progress is counted.

    ``progress`` is what ``eval_accuracy`` carries (``epoch_num`` or ``samples_count``)
    and the unit of reference convergence points. Evaluations happen every
    ``eval_every`` units, the first at ``eval_first`` (default ``eval_every``); epochs
    may be fractions (DLRM evaluates 20 times per epoch). ``runs``, ``drop`` and
    ``max_failed`` are the olympic-scoring counts of the benchmark.
    """

    benchmark: str
    ruleset: str
    progress: Progress
    target: float
    higher_is_better: bool = True
    eval_every: float = 1.0
    eval_first: float | None = None
    runs: int = 5
    drop: int = 1
    max_failed: int = 1
    max_units: float = 100.0  # give up (status aborted) after this many epochs or samples

    def __post_init__(self) -> None:
        if not self.benchmark:
            raise ValueError("BenchmarkSpec.benchmark must not be empty")
        parts = self.ruleset.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ValueError(f"BenchmarkSpec.ruleset must look like 4.0.0, got {self.ruleset!r}")
        if self.progress not in ("epoch", "samples"):
            raise ValueError(f"BenchmarkSpec.progress must be epoch or samples: {self.progress!r}")
        if not math.isfinite(self.target):
            raise ValueError("BenchmarkSpec.target must be finite")
        if not self.eval_every > 0:
            raise ValueError(f"BenchmarkSpec.eval_every must be > 0, got {self.eval_every}")
        if self.eval_first is not None and not self.eval_first > 0:
            raise ValueError(f"BenchmarkSpec.eval_first must be > 0, got {self.eval_first}")
        if self.runs <= 2 * self.drop or not 0 <= self.max_failed <= self.drop:
            raise ValueError(
                f"BenchmarkSpec: runs ({self.runs}) must exceed 2 * drop ({self.drop}) and "
                f"max_failed ({self.max_failed}) must be in [0, drop]"
            )
        first = self.eval_every if self.eval_first is None else self.eval_first
        if not self.max_units >= first:
            raise ValueError(
                f"BenchmarkSpec.max_units ({self.max_units}) must reach the first evaluation "
                f"({first})"
            )

    def reached(self, value: float) -> bool:
        """Whether an evaluation result meets the quality target."""
        if not math.isfinite(value):
            return False
        return value >= self.target if self.higher_is_better else value <= self.target

    @property
    def ruleset_major(self) -> int:
        """6 for ``6.0.0``: rulesets before 6 require ``submission_status`` in the log."""
        return int(self.ruleset.split(".")[0])

    def eval_points(self) -> list[float]:
        """Every evaluation position up to ``max_units``, in ``progress`` units."""
        first = self.eval_first if self.eval_first is not None else self.eval_every
        points: list[float] = []
        k = 0
        while (p := first + k * self.eval_every) <= self.max_units + 1e-9:
            points.append(round(p, 9))
            k += 1
        return points


@dataclass(frozen=True)
class SubmissionInfo:
    """The ``submission_*`` keys every training log starts with."""

    org: str = "mlmeter"
    division: Division = "open"
    platform: str = "local"
    status: str = "onprem"  # logged only for rulesets before 6.0.0
    poc_name: str = ""
    poc_email: str = ""

    def __post_init__(self) -> None:
        if not self.org.strip():
            raise ValueError("SubmissionInfo.org must not be empty (use --org NAME)")
        if not self.platform.strip():
            raise ValueError("SubmissionInfo.platform must not be empty (use --system NAME)")
        if self.division not in DIVISIONS:
            raise ValueError(f"SubmissionInfo.division must be closed or open: {self.division!r}")
        if self.status not in SUBMISSION_STATUSES:
            known = ", ".join(SUBMISSION_STATUSES)
            raise ValueError(f"SubmissionInfo.status must be one of {known}: {self.status!r}")
