"""What a benchmark is: a data set, a model behind a backend, a metric and a quality target.

The loadgen knows none of this. A workload turns options into a QSL (its data set),
a SUT (its model behind a batching server) and a scorer that reads the accuracy log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mlmeter.errors import UsageError
from mlmeter.loadgen import QSL, SUT
from mlmeter.logfmt import AccuracyEntry
from mlmeter.settings import Scenario
from mlmeter.suts import BatchingSUT, Runner


@dataclass(frozen=True)
class Target:
    """A quality target: ``fraction`` of the FP32 ``reference`` value of ``metric``."""

    metric: str
    reference: float
    fraction: float = 0.99
    higher_is_better: bool = True

    @property
    def threshold(self) -> float:
        """The value a run must reach (or stay under, for lower-is-better metrics)."""
        if self.higher_is_better:
            return self.reference * self.fraction
        return self.reference / self.fraction

    def passes(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return value >= self.threshold if self.higher_is_better else value <= self.threshold


@dataclass(frozen=True)
class AccuracyResult:
    """A scored accuracy run."""

    metric: str
    value: float
    target: Target
    count: int  # samples scored
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether the value meets the target."""
        return self.target.passes(self.value)


class Dataset(Protocol):
    """A data set as a workload sees it: preprocessed inputs and labels by index."""

    @property
    def name(self) -> str:
        """Reported as the QSL name."""
        ...

    def __len__(self) -> int: ...

    def get(self, index: int) -> Any:
        """The preprocessed model input of sample ``index``."""
        ...

    def label(self, index: int) -> Any:
        """The ground truth of sample ``index``."""
        ...


@dataclass(frozen=True)
class WorkloadOptions:
    """Options every real workload understands (CLI flags of the same names)."""

    backend: str = "onnxruntime"  # or "torch"
    device: str = "cpu"  # or "cuda"
    threads: int = 1
    batch_size: int = 1
    max_wait_ms: float = 0.0
    instances: int = 1
    data_dir: Path | None = None
    model_path: Path | None = None
    performance_samples: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Scorer = Callable[[Sequence[AccuracyEntry]], AccuracyResult]


class _Closable:
    """``close()`` runs the ``closers`` a workload registered (threads, models, files)."""

    closers: list[Callable[[], None]]

    def close(self) -> None:
        """Stop SUT threads and release resources."""
        for close in self.closers:
            close()


@dataclass
class Prepared(_Closable):
    """A workload ready to run."""

    qsl: QSL
    sut: SUT
    scorer: Scorer
    target: Target
    closers: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class DataSide(_Closable):
    """The LoadGen side of a network run (``mlmeter run --sut``): data and scorer, no model.

    ``inputs(index)`` is the preprocessed input of a loaded sample: what crosses the
    network to the server.
    """

    qsl: QSL
    inputs: Callable[[int], Any]
    scorer: Scorer
    target: Target
    closers: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class Served:
    """The server side of a network run (``mlmeter serve``): the model, no data set.

    One runner per model instance; each maps a list of preprocessed inputs to the
    response bytes a local SUT would hand to the loadgen.
    """

    runners: list[Runner]
    model: str
    closers: list[Callable[[], None]] = field(default_factory=list)


class Workload(ABC):
    """A benchmark: subclasses set the class attributes and implement ``prepare``."""

    name: ClassVar[str]
    task: ClassVar[str]
    model: ClassVar[str]
    dataset: ClassVar[str]
    mlperf_model: ClassVar[str]  # the benchmark name in mlperf.conf (e.g. "resnet50")
    # the name in submission trees and results tables: mlperf_model, with the accuracy
    # variant the workload's target meets where the benchmark has two (e.g. "bert-99")
    submission_benchmark: ClassVar[str] = ""
    metric: ClassVar[str]
    backends: ClassVar[tuple[str, ...]] = ("onnxruntime", "torch")
    needs_endpoint: ClassVar[bool] = False  # runs only against a server (--endpoint)

    @classmethod
    def benchmark(cls) -> str:
        """The MLPerf benchmark name in submission trees (``submission_benchmark`` or
        ``mlperf_model``)."""
        return cls.submission_benchmark or cls.mlperf_model

    def defaults(self, scenario: Scenario) -> dict[str, Any]:
        """Short-run TestSettings fields for ``scenario`` (CI-sized)."""
        return {"min_duration_ms": 2000, "min_query_count": 64}

    @abstractmethod
    def prepare(self, opts: WorkloadOptions) -> Prepared:
        """Load the data set and model; return the QSL, SUT and scorer."""

    def _prepare_served(self, opts: WorkloadOptions, sut_name: str) -> Prepared:
        """A ``prepare`` for a workload whose local run is what a network run splits:
        ``prepare_data`` (loaded first), then the ``serving`` runners behind a BatchingSUT."""
        data = self.prepare_data(opts)
        return self._batched(data, self.serving(opts).runners, opts, sut_name)

    @staticmethod
    def _batched(
        data: DataSide, runners: Sequence[Runner], opts: WorkloadOptions, sut_name: str
    ) -> Prepared:
        """``data`` run locally: ``runners`` behind a BatchingSUT sized by ``opts``."""
        sut = BatchingSUT(
            runners,
            data.inputs,
            max_batch=opts.batch_size,
            max_wait_ms=opts.max_wait_ms,
            name=sut_name,
        )
        return Prepared(data.qsl, sut, data.scorer, data.target, closers=[sut.close])

    def prepare_data(self, opts: WorkloadOptions) -> DataSide:
        """The QSL, its inputs and the scorer, for a run against a network SUT.

        This default builds everything with ``prepare`` and stops its SUT, so it loads
        the model once for nothing; workloads override it to skip the model.
        """
        prepared = self.prepare(opts)
        prepared.close()
        inputs = getattr(prepared.qsl, "input", None)
        if not callable(inputs):
            raise UsageError(f"{self.name}: its QSL has no input(index), so --sut cannot send it")
        return DataSide(prepared.qsl, inputs, prepared.scorer, prepared.target)

    def serving(self, opts: WorkloadOptions) -> Served:
        """The model's runners for ``mlmeter serve``; workloads that can be served
        override this (the default says the workload cannot)."""
        raise UsageError(
            f"`mlmeter serve {self.name}` is not supported yet: the workload does not "
            "provide serving(); run it locally with `mlmeter run` instead"
        )

    def describe(self) -> dict[str, str]:
        """One row of ``mlmeter list``."""
        return {
            "name": self.name,
            "task": self.task,
            "model": self.model,
            "dataset": self.dataset,
            "metric": self.metric,
            "backends": ", ".join(self.backends),
        }
