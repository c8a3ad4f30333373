"""``NullSUT``: answers every sample at once, on the issuing thread."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlmeter.loadgen import (
    IntArray,
    QuerySample,
    QuerySampleResponse,
    complete,
    complete_arrays,
)

_CHUNK = 1 << 16


class NullSUT:
    """The fastest possible SUT: measures the harness alone.

    It uses the array fast path when the loadgen offers it (``issue_arrays``)
    and answers large queries in chunks so memory stays flat.
    """

    def __init__(self, name: str = "NullSUT") -> None:
        self._name = name

    @property
    def name(self) -> str:
        """The SUT name for the logs."""
        return self._name

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Answer every sample immediately with an empty response."""
        if len(samples) <= _CHUNK:
            complete([QuerySampleResponse(s.id) for s in samples])
            return
        for lo in range(0, len(samples), _CHUNK):
            complete([QuerySampleResponse(s.id) for s in samples[lo : lo + _CHUNK]])

    def issue_arrays(self, ids: IntArray, indices: IntArray) -> None:
        """Array fast path: answer all ``ids`` in one call."""
        complete_arrays(np.asarray(ids, dtype=np.int64))

    def flush_queries(self) -> None:
        """Nothing is batched."""
