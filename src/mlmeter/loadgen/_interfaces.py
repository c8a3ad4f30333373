"""The two interfaces a user implements (SUT, QSL) and the sample/response values.

The loadgen knows nothing of models, data or accuracy: a SUT receives
``QuerySample(id, index)`` values and answers each ``id`` with a
``QuerySampleResponse`` through :func:`mlmeter.loadgen.complete`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class QuerySample:
    """One sample of a query: ``id`` is the loadgen's handle, ``index`` the QSL index."""

    __slots__ = ("id", "index")

    def __init__(self, id: int = 0, index: int = 0) -> None:
        self.id = id
        self.index = index

    def __repr__(self) -> str:
        return f"QuerySample(id={self.id}, index={self.index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuerySample):
            return NotImplemented
        return self.id == other.id and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.id, self.index))

    def __reduce__(self) -> tuple[type[QuerySample], tuple[int, int]]:
        return (QuerySample, (self.id, self.index))


ResponseData = bytes | bytearray | memoryview | int | None


class QuerySampleResponse:
    """The answer for one sample.

    ``data`` is either bytes-like (native API) or an integer address of ``size``
    bytes (the official API's raw pointer). Only accuracy logging reads it.
    ``n_tokens`` is the output token count for LLM runs.
    """

    __slots__ = ("data", "id", "n_tokens", "size")

    def __init__(
        self,
        id: int = 0,
        data: ResponseData = None,
        size: int = 0,
        n_tokens: int = 0,
    ) -> None:
        self.id = id
        self.data = data
        self.size = size
        self.n_tokens = n_tokens

    def __repr__(self) -> str:
        return f"QuerySampleResponse(id={self.id}, size={self.size}, n_tokens={self.n_tokens})"

    def __reduce__(
        self,
    ) -> tuple[type[QuerySampleResponse], tuple[int, ResponseData, int, int]]:
        data = self.payload() if isinstance(self.data, int) else self.data
        return (QuerySampleResponse, (self.id, data, self.size, self.n_tokens))

    def payload(self) -> bytes:
        """The response bytes (copied from the address for pointer-style data)."""
        data = self.data
        if data is None:
            return b""
        if isinstance(data, int):
            if data == 0 or self.size <= 0:
                return b""
            import ctypes

            return ctypes.string_at(data, self.size)
        raw = bytes(data)
        return raw if self.size <= 0 else raw[: self.size]


@runtime_checkable
class SUT(Protocol):
    """A system under test."""

    @property
    def name(self) -> str:
        """Reported as ``sut_name`` in the logs."""
        ...

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Start work on ``samples``; answer each through ``complete`` from any thread."""
        ...

    def flush_queries(self) -> None:
        """All queries have been issued: finish any batching now."""
        ...


@runtime_checkable
class ArraySUT(SUT, Protocol):
    """A SUT with the array fast path: ids and QSL indices as int64 numpy arrays.

    The loadgen calls ``issue_arrays`` instead of ``issue_queries`` when a SUT has it;
    answer with :func:`mlmeter.loadgen.complete_arrays`.
    """

    def issue_arrays(self, ids: IntArray, indices: IntArray) -> None:
        """Start work on the samples ``ids[i]`` with QSL index ``indices[i]``."""
        ...


@runtime_checkable
class QSL(Protocol):
    """A query sample library: the data set, as the loadgen sees it."""

    @property
    def name(self) -> str:
        """Reported as ``qsl_name`` in the logs."""
        ...

    @property
    def total_sample_count(self) -> int:
        """Samples in the data set (accuracy mode issues each once)."""
        ...

    @property
    def performance_sample_count(self) -> int:
        """Samples that fit in memory at once (the performance set size)."""
        ...

    def load_samples(self, indices: Sequence[int]) -> None:
        """Bring the samples at ``indices`` into memory before they are issued."""
        ...

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Release the samples at ``indices``."""
        ...
