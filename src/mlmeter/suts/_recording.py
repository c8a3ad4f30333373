"""Recording doubles for lifecycle tests: they log every call in order."""

from __future__ import annotations

from collections.abc import Sequence

from mlmeter.loadgen import QuerySample, QuerySampleResponse, complete


class RecordingQSL:
    """A QSL that records load/unload calls into a shared ``calls`` list."""

    def __init__(
        self,
        total: int = 1024,
        performance: int | None = None,
        calls: list[tuple[str, object]] | None = None,
        name: str = "RecordingQSL",
    ) -> None:
        self._total = total
        self._perf = performance if performance is not None else total
        self.calls: list[tuple[str, object]] = calls if calls is not None else []
        self._name = name
        self.loaded: set[int] = set()

    @property
    def name(self) -> str:
        """The QSL name for the logs."""
        return self._name

    @property
    def total_sample_count(self) -> int:
        """Samples in the data set."""
        return self._total

    @property
    def performance_sample_count(self) -> int:
        """Samples that fit in memory."""
        return self._perf

    def load_samples(self, indices: Sequence[int]) -> None:
        """Record the call and mark the samples loaded."""
        self.calls.append(("load", len(indices)))
        self.loaded.update(indices)

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Record the call and mark the samples unloaded."""
        self.calls.append(("unload", len(indices)))
        self.loaded.difference_update(indices)


class RecordingSUT:
    """A SUT that answers inline and records issue/flush calls and sample indices."""

    def __init__(
        self, calls: list[tuple[str, object]] | None = None, qsl: RecordingQSL | None = None
    ) -> None:
        self.calls: list[tuple[str, object]] = calls if calls is not None else []
        self.indices: list[int] = []
        self.unloaded_hits = 0
        self._qsl = qsl

    @property
    def name(self) -> str:
        """The SUT name for the logs."""
        return "RecordingSUT"

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Record the query, check its samples are loaded, answer with the index bytes."""
        self.calls.append(("issue", len(samples)))
        for s in samples:
            self.indices.append(s.index)
            if self._qsl is not None and s.index not in self._qsl.loaded:
                self.unloaded_hits += 1
        complete([QuerySampleResponse(s.id, s.index.to_bytes(4, "little")) for s in samples])

    def flush_queries(self) -> None:
        """Record the flush."""
        self.calls.append(("flush", None))
