"""Blocking until the SUT has answered, with a watchdog instead of a hang.

Only distinct, known ids count: an unknown id or a repeated answer never makes the
issuer believe a sample is done (they are reported after the run).
"""

from __future__ import annotations

from time import perf_counter_ns

import numpy as np

from mlmeter.errors import SUTError, SUTTimeoutError
from mlmeter.loadgen._recorder import Entry, Recorder

_POLL_S = 0.05


class Waiter:
    """The issuing thread's view of the response log."""

    __slots__ = ("base", "completed", "last_progress_ns", "pos", "rec", "seen", "timeout_ns")

    def __init__(self, rec: Recorder, timeout_ms: int) -> None:
        self.rec = rec
        self.base = rec.base
        self.pos = 0
        self.completed = 0  # distinct known ids answered so far
        self.seen = bytearray(rec.n_samples)  # 1 = answered
        self.timeout_ns = timeout_ms * 1_000_000
        self.last_progress_ns = perf_counter_ns()

    def _take(self) -> list[Entry]:
        log = self.rec.log
        end = len(log)
        if end == self.pos:
            return []
        new = log[self.pos : end]
        self.pos = end
        self.last_progress_ns = perf_counter_ns()
        return new

    def _mark(self, entries: list[Entry], lo: int, hi: int) -> int:
        """Mark new distinct ids answered; return how many fall in ``[lo, hi)``."""
        seen, base, n = self.seen, self.base, len(self.seen)
        fresh = in_range = 0
        for _, ids in entries:
            if isinstance(ids, int):
                r = ids - base
                if 0 <= r < n and not seen[r]:
                    seen[r] = 1
                    fresh += 1
                    in_range += lo <= r < hi
                continue
            new = self._mark_array(np.asarray(ids, dtype=np.int64) - base)
            fresh += new.size
            in_range += int(np.count_nonzero((new >= lo) & (new < hi)))
        self.completed += fresh
        return in_range

    def _mark_array(self, rel: np.ndarray) -> np.ndarray:
        view = np.frombuffer(self.seen, dtype=np.uint8)
        rel = rel[(rel >= 0) & (rel < view.size)]
        if rel.size > 1 and not bool(np.all(rel[1:] > rel[:-1])):
            rel = np.unique(rel)
        rel = rel[view[rel] == 0]
        view[rel] = 1
        return rel

    def poll(self) -> int:
        """Consume new entries; return the number of distinct samples answered."""
        entries = self._take()
        if entries:
            self._mark(entries, 0, 0)
        return self.completed

    def wait_range(self, lo: int, hi: int) -> None:
        """Block until every sample in ``[lo, hi)`` has been answered."""
        need = hi - lo - sum(self.seen[lo:hi])
        while need > 0:
            entries = self._take()
            if entries:
                need -= self._mark(entries, lo, hi)
                if need <= 0:
                    return
            self._block(f"query of samples [{lo}, {hi})", need)

    def wait_count(self, target: int) -> None:
        """Block until ``target`` distinct samples have been answered in total."""
        while self.poll() < target:
            self._block("the outstanding samples", target - self.completed)

    def _block(self, what: str, missing: int) -> None:
        rec = self.rec
        rec.waiting = True
        if len(rec.log) == self.pos:
            rec.signal.acquire(timeout=_POLL_S)
        rec.waiting = False
        if rec.abort_reason:
            raise SUTError(rec.abort_reason)
        if self.timeout_ns and len(rec.log) == self.pos:
            silent = perf_counter_ns() - self.last_progress_ns
            if silent > self.timeout_ns:
                raise SUTTimeoutError(
                    f"the SUT stopped answering: no response for {silent / 1e9:.1f} s while "
                    f"waiting for {what}; {missing} sample(s) never answered "
                    f"(raise response_timeout_ms if the SUT is just slow)"
                )
