"""``DatasetQSL``: a QSL over a ``Dataset`` that keeps loaded samples in memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlmeter.errors import RunError
from mlmeter.workloads._base import Dataset


class DatasetQSL:
    """Loads preprocessed inputs into RAM on ``load_samples``; the SUT reads them by index."""

    def __init__(self, dataset: Dataset, performance_count: int | None = None) -> None:
        self._data = dataset
        self._total = len(dataset)
        self._perf = min(performance_count or self._total, self._total)
        self._loaded: dict[int, Any] = {}

    @property
    def name(self) -> str:
        """The data set's name."""
        return self._data.name

    @property
    def total_sample_count(self) -> int:
        """Samples in the data set."""
        return self._total

    @property
    def performance_sample_count(self) -> int:
        """Samples loaded at once in performance mode."""
        return self._perf

    def load_samples(self, indices: Sequence[int]) -> None:
        """Preprocess and keep the samples at ``indices``."""
        for i in indices:
            if i not in self._loaded:
                self._loaded[i] = self._data.get(i)

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Drop the samples at ``indices``."""
        for i in indices:
            self._loaded.pop(i, None)

    def input(self, index: int) -> Any:
        """The loaded input of sample ``index`` (the SUT's hot path)."""
        try:
            return self._loaded[index]
        except KeyError:
            raise RunError(f"sample {index} was issued but is not loaded") from None

    @property
    def dataset(self) -> Dataset:
        """The underlying data set (labels for scoring)."""
        return self._data
