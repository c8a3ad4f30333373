"""The typed shape of one round's rules: frozen dataclasses that validate themselves.

``_load`` builds these from the round's TOML (after resolving ``inherits``); checks read
only these objects, never the TOML. Every ``__post_init__`` names the field it rejects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from mlmeter.errors import SettingsError

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
CATEGORIES = ("datacenter", "edge", "both")


def _fail(where: str, message: str) -> SettingsError:
    return SettingsError(f"rules: {where}: {message}")


def _positive(where: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not (value >= 0 if allow_zero else value > 0):
        raise _fail(where, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _scenarios(where: str, names: tuple[str, ...]) -> None:
    bad = [s for s in names if s not in SCENARIOS]
    if bad:
        raise _fail(where, f"unknown scenario(s) {bad}; use {', '.join(SCENARIOS)}")


@dataclass(frozen=True)
class Seeds:
    """The official LoadGen seeds every performance run must use."""

    qsl_rng_seed: int
    sample_index_rng_seed: int
    schedule_rng_seed: int

    def __post_init__(self) -> None:
        for name in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed"):
            _positive(f"seeds.{name}", getattr(self, name), allow_zero=True)

    def as_dict(self) -> dict[str, int]:
        """``{"qsl_rng_seed": ..., ...}``."""
        return {
            "qsl_rng_seed": self.qsl_rng_seed,
            "sample_index_rng_seed": self.sample_index_rng_seed,
            "schedule_rng_seed": self.schedule_rng_seed,
        }


@dataclass(frozen=True)
class RequiredFiles:
    """Files each results folder must hold, and the extra ones it may hold."""

    performance: tuple[str, ...]  # performance/run_1/
    performance_optional: tuple[str, ...]
    accuracy: tuple[str, ...]  # accuracy/
    accuracy_optional: tuple[str, ...]
    scenario: tuple[str, ...]  # <scenario>/ itself
    scenario_optional: tuple[str, ...]  # files or folders (TEST01, mlperf.conf, ...)


@dataclass(frozen=True)
class Accuracy:
    """How to read ``accuracy.txt`` and the value it must reach.

    ``regex`` has one group: the metric's value. The target is ``fraction * reference``;
    ``upper_fraction`` (if set) caps the value at ``upper_fraction * reference``.
    """

    metric: str
    regex: str
    reference: float
    fraction: float
    upper_fraction: float | None = None

    def __post_init__(self) -> None:
        try:
            groups = re.compile(self.regex).groups
        except re.error as exc:
            raise _fail(f"accuracy.regex of {self.metric}", f"invalid regex: {exc}") from None
        if groups < 1:
            raise _fail(f"accuracy.regex of {self.metric}", "needs one group (the value)")
        _positive(f"accuracy.reference of {self.metric}", self.reference)
        _positive(f"accuracy.fraction of {self.metric}", self.fraction)
        _positive(f"accuracy.upper_fraction of {self.metric}", self.upper_fraction)

    @property
    def target(self) -> float:
        """The value the metric must reach."""
        return self.fraction * self.reference

    @property
    def upper(self) -> float | None:
        """The value the metric must not exceed, if any."""
        return None if self.upper_fraction is None else self.upper_fraction * self.reference


@dataclass(frozen=True)
class Benchmark:
    """One inference benchmark of a round (its folder name in ``results/<system>/``)."""

    name: str
    category: str  # datacenter, edge or both
    datacenter: tuple[str, ...]  # scenarios required of a datacenter system
    edge: tuple[str, ...]  # scenarios required of an edge system
    performance_sample_count: int
    accuracy: Accuracy
    min_query_count: Mapping[str, int] = field(default_factory=dict)  # scenario -> minimum
    server_latency_ms: float | None = None  # the Server p99 bound (None: ttft/tpot instead)
    ttft_ms: float | None = None  # LLMs: first-token p99 bound in Server
    tpot_ms: float | None = None  # LLMs: time-per-output-token p99 bound in Server
    early_stopping: bool = True  # SingleStream/MultiStream/Server must meet early stopping
    token_latencies: bool = False

    def __post_init__(self) -> None:
        where = f"benchmarks.{self.name}"
        if self.category not in CATEGORIES:
            raise _fail(f"{where}.category", f"must be one of {CATEGORIES}: {self.category!r}")
        _scenarios(f"{where}.datacenter", self.datacenter)
        _scenarios(f"{where}.edge", self.edge)
        _scenarios(f"{where}.min_query_count", tuple(self.min_query_count))
        _positive(f"{where}.performance_sample_count", self.performance_sample_count)
        for key, value in self.min_query_count.items():
            _positive(f"{where}.min_query_count.{key}", value)
        for name in ("server_latency_ms", "ttft_ms", "tpot_ms"):
            _positive(f"{where}.{name}", getattr(self, name))
        object.__setattr__(self, "min_query_count", MappingProxyType(dict(self.min_query_count)))

    def required_scenarios(self, system_type: str) -> tuple[str, ...]:
        """Scenarios a system of ``system_type`` (datacenter, edge or both) must submit."""
        kinds = {k.strip() for k in system_type.split(",")}
        need: list[str] = []
        if "datacenter" in kinds and self.category in ("datacenter", "both"):
            need += self.datacenter
        if "edge" in kinds and self.category in ("edge", "both"):
            need += [s for s in self.edge if s not in need]
        return tuple(need)


@dataclass(frozen=True)
class TrainingBenchmark:
    """One training benchmark: how many ``result_<i>.txt`` logs and its quality target."""

    name: str
    runs: int
    target: float
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.runs, bool) or self.runs < 3:
            raise _fail(f"training.{self.name}.runs", f"must be >= 3, got {self.runs!r}")


@dataclass(frozen=True)
class Round:
    """The rules of one round (``5.1``, ``6.0``, ``dev``), inheritance already resolved."""

    name: str
    inherits: str | None
    official: bool
    min_duration_ms: int
    seeds: Seeds
    files: RequiredFiles
    system_fields: tuple[str, ...]  # inference systems/<system>.json
    training_system_fields: tuple[str, ...]  # training systems/<system>.json
    benchmarks: Mapping[str, Benchmark] = field(default_factory=dict)
    training: Mapping[str, TrainingBenchmark] = field(default_factory=dict)
    waived_errors: tuple[str, ...] = ()  # LoadGen error texts the checker tolerates
    source: str = ""  # the file it was read from

    def __post_init__(self) -> None:
        if not self.name:
            raise _fail("round.name", "must not be empty")
        _positive("round.min_duration_ms", self.min_duration_ms)
        object.__setattr__(self, "benchmarks", MappingProxyType(dict(self.benchmarks)))
        object.__setattr__(self, "training", MappingProxyType(dict(self.training)))

    def benchmark(self, name: str) -> Benchmark | None:
        """The benchmark called ``name`` in this round, if any."""
        return self.benchmarks.get(name)
