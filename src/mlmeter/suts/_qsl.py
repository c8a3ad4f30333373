"""``NullQSL``: a QSL with no data, for harness measurements and tests."""

from __future__ import annotations

from collections.abc import Sequence


class NullQSL:
    """Reports ``total`` samples, ``performance`` of which fit in memory; loads nothing."""

    def __init__(self, total: int = 1024, performance: int | None = None) -> None:
        if total < 1:
            raise ValueError("a QSL needs at least one sample")
        self._total = total
        self._perf = min(performance or total, total)

    @property
    def name(self) -> str:
        """The QSL name for the logs."""
        return "NullQSL"

    @property
    def total_sample_count(self) -> int:
        """Samples in the data set."""
        return self._total

    @property
    def performance_sample_count(self) -> int:
        """Samples that fit in memory at once."""
        return self._perf

    def load_samples(self, indices: Sequence[int]) -> None:
        """Nothing to load."""

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Nothing to unload."""
