"""Thread-safe response recording: the SUT-facing half of the hot path.

``complete`` may be called from any thread. It takes one timestamp per call and
appends ``(ts, ids)`` to a list (``list.append`` is atomic under the GIL), so it
never takes a lock. The issuing thread is the only consumer: it reads the log
to know when a query is done, and after the run the log becomes numpy arrays.
Copies of response data are taken only when they will be logged (accuracy mode,
or the samples chosen for the accuracy log in performance mode).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any

import numpy as np
import numpy.typing as npt

from mlmeter.loadgen._interfaces import IntArray, QuerySampleResponse

# a log entry: (timestamp_ns, id) | (timestamp_ns, list_of_ids) | (timestamp_ns, id_array)
Entry = tuple[int, Any]

_ARRAY_FROM = 512
_POOL = 1 << 16  # pooled small answers are applied in chunks of this many ids
_ID = operator.attrgetter("id")


class Recorder:
    """Collects responses for one run."""

    def __init__(
        self,
        n_samples: int,
        *,
        tokens: bool = False,
        capture: npt.NDArray[np.bool_] | None = None,
        capture_all: bool = False,
        base: int = 0,
    ) -> None:
        self.n_samples = n_samples
        self.base = base  # sample ids are base + sample number
        self.log: list[Entry] = []
        self.token_log: list[Entry] = []
        self.captured: list[tuple[int, int, bytes, int]] = []  # (ts, id, data, n_tokens)
        self.first_token_data: dict[int, bytes] = {}
        self.n_tokens: dict[int, int] = {}
        # a binary semaphore: released by producers, acquired by the waiting issuer
        self.signal = threading.Lock()
        self.signal.acquire()
        self.waiting = False
        self.closed = False
        self.late_responses = 0
        self.abort_reason = ""  # set by the SUT through mlmeter.loadgen.abort
        self.sample_errors: list[str] = []  # reasons, from mlmeter.loadgen.sample_error
        self._append = self.log.append
        self._capture = capture
        self._capture_all = capture_all
        self.tokens = tokens
        self.complete: Callable[[Sequence[QuerySampleResponse]], None] = self._pick_complete()

    # -- producer side (any thread) -------------------------------------------------

    def _pick_complete(self) -> Callable[[Sequence[QuerySampleResponse]], None]:
        if self._capture_all or self._capture is not None or self.tokens:
            return self._complete_full
        return self._complete_plain

    def _complete_plain(self, responses: Sequence[QuerySampleResponse]) -> None:
        ts = perf_counter_ns()
        n = len(responses)
        if n == 1:
            self._append((ts, responses[0].id))
        elif n < _ARRAY_FROM:
            self._append((ts, [r.id for r in responses]))
        else:  # large batches: 8 bytes per id instead of a list of int objects
            self._append((ts, np.fromiter(map(_ID, responses), np.int64, n)))
        if self.waiting:
            self.wake()

    def _complete_full(self, responses: Sequence[QuerySampleResponse]) -> None:
        ts = perf_counter_ns()
        ids = [r.id for r in responses]
        capture = self._capture
        for r in responses:
            if r.n_tokens:
                self.n_tokens[r.id] = r.n_tokens
            rel = r.id - self.base
            if self._capture_all or (
                capture is not None and 0 <= rel < capture.size and capture[rel]
            ):
                self.captured.append((ts, r.id, r.payload(), r.n_tokens))
        self._append((ts, ids))
        if self.waiting:
            self.wake()

    def sample_error(self, reason: str) -> None:
        """Count a sample that the SUT answered but failed (``list.append`` is atomic)."""
        self.sample_errors.append(reason)

    def abort(self, reason: str) -> None:
        """Ask the issuer to end the run with ``reason``."""
        self.abort_reason = reason or "the SUT aborted the run"
        self.wake()

    def wake(self) -> None:
        """Wake the issuer if it waits (a stale wake-up is harmless: it re-checks)."""
        try:  # noqa: SIM105 - contextlib.suppress costs more on this hot path
            self.signal.release()
        except RuntimeError:  # already released
            pass

    def complete_arrays(self, ids: IntArray, data: Sequence[bytes] | None = None) -> None:
        """Array fast path: answer every id in ``ids`` at once."""
        ts = perf_counter_ns()
        arr = np.asarray(ids, dtype=np.int64)
        if self._capture_all or self._capture is not None:
            self._capture_arrays(ts, arr, data)
        self._append((ts, arr))
        if self.waiting:
            self.wake()

    def _capture_arrays(self, ts: int, ids: IntArray, data: Sequence[bytes] | None) -> None:
        payloads = [bytes(d) for d in data] if data is not None else [b""] * ids.size
        if len(payloads) != ids.size:
            raise ValueError("complete_arrays: data must have one entry per id")
        capture = self._capture
        for sid, payload in zip(ids.tolist(), payloads, strict=True):
            rel = sid - self.base
            if self._capture_all or (
                capture is not None and 0 <= rel < capture.size and capture[rel]
            ):
                self.captured.append((ts, sid, payload, 0))

    def first_token(self, responses: Sequence[QuerySampleResponse]) -> None:
        """Record first-token times (LLM runs)."""
        ts = perf_counter_ns()
        for r in responses:
            self.token_log.append((ts, r.id))
            if self._capture_all or self._capture is not None:
                self.first_token_data[r.id] = r.payload()

    # -- consumer side (the issuing thread) -----------------------------------------


def entry_ids(entry: Entry) -> list[int] | IntArray:
    """The ids of one log entry as a list or an array."""
    ids = entry[1]
    return [ids] if isinstance(ids, int) else ids


class LogCursor:
    """The issuing thread's read position in a recorder's log."""

    __slots__ = ("log", "pos")

    def __init__(self, log: list[Entry]) -> None:
        self.log = log
        self.pos = 0

    def take(self) -> list[Entry]:
        """Entries appended since the last call."""
        end = len(self.log)
        new = self.log[self.pos : end]
        self.pos = end
        return new


def count_in_range(entries: list[Entry], lo: int, hi: int) -> int:
    """How many ids in ``entries`` fall in ``[lo, hi)``."""
    n = 0
    for _, ids in entries:
        if isinstance(ids, int):
            n += lo <= ids < hi
        elif isinstance(ids, np.ndarray):
            n += int(np.count_nonzero((ids >= lo) & (ids < hi)))
        else:
            n += sum(1 for i in ids if lo <= i < hi)
    return n


def count_ids(entries: list[Entry]) -> int:
    """How many ids ``entries`` hold in total."""
    return sum(1 if isinstance(ids, int) else len(ids) for _, ids in entries)


@dataclass
class Arrivals:
    """First-arrival times written into ``times``, and what was wrong with the rest."""

    unknown: int = 0
    duplicates: int = 0


def apply_log(
    log: list[Entry], times: IntArray, n_valid: int, origin_ns: int, base: int = 0
) -> Arrivals:
    """Write the first arrival time (``ts - origin``) of each id into ``times``.

    ``times`` holds ``NOT_SET`` (-1) for ids not answered yet. Ids are sample
    numbers plus ``base``; those outside ``[0, n_valid)`` after it count as unknown,
    later answers to an id as duplicates. Works entry by entry, so memory stays at
    one entry's size beyond ``times``.
    """
    out = Arrivals()
    singles_ids: list[int] = []
    singles_ts: list[int] = []
    for ts, ids in log:
        if isinstance(ids, int):
            singles_ids.append(ids - base)
            singles_ts.append(ts - origin_ns)
        elif isinstance(ids, list) and len(ids) < _ARRAY_FROM:  # small batch: pool it
            singles_ids.extend([i - base for i in ids])
            singles_ts.extend([ts - origin_ns] * len(ids))
        else:
            _apply_singles(singles_ids, singles_ts, times, n_valid, out)
            arr = np.asarray(ids, dtype=np.int64) - base
            _apply(arr, np.int64(ts - origin_ns), times, n_valid, out)
            continue
        if len(singles_ids) >= _POOL:
            _apply_singles(singles_ids, singles_ts, times, n_valid, out)
    _apply_singles(singles_ids, singles_ts, times, n_valid, out)
    return out


def _apply_singles(
    ids: list[int], ts: list[int], times: IntArray, n_valid: int, out: Arrivals
) -> None:
    if ids:
        _apply(np.array(ids, dtype=np.int64), np.array(ts, dtype=np.int64), times, n_valid, out)
        ids.clear()
        ts.clear()


def _apply(
    ids: IntArray, ts: IntArray | np.int64, times: IntArray, n_valid: int, out: Arrivals
) -> None:
    known = (ids >= 0) & (ids < n_valid)
    n_known = int(np.count_nonzero(known))
    if n_known != ids.size:
        out.unknown += ids.size - n_known
        ids = ids[known]
        ts = ts[known] if isinstance(ts, np.ndarray) else ts
    if ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        before = ids.size
        ids, first = np.unique(ids, return_index=True)  # repeats within the entry
        out.duplicates += before - ids.size
        ts = ts[first] if isinstance(ts, np.ndarray) else ts
    fresh = times[ids] == -1
    n_fresh = int(np.count_nonzero(fresh))
    if n_fresh != ids.size:
        out.duplicates += ids.size - n_fresh
        ids = ids[fresh]
        ts = ts[fresh] if isinstance(ts, np.ndarray) else ts
    times[ids] = ts
