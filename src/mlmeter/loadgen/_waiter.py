"""Blocking until the SUT has answered, with a watchdog instead of a hang."""

from __future__ import annotations

from time import perf_counter_ns

from mlmeter.errors import SUTTimeoutError
from mlmeter.loadgen._recorder import Recorder, count_ids, count_in_range

_POLL_S = 0.05


class Waiter:
    """The issuing thread's view of the response log."""

    __slots__ = ("completed", "last_progress_ns", "pos", "rec", "timeout_ns")

    def __init__(self, rec: Recorder, timeout_ms: int) -> None:
        self.rec = rec
        self.pos = 0
        self.completed = 0  # ids seen so far (duplicates included)
        self.timeout_ns = timeout_ms * 1_000_000
        self.last_progress_ns = perf_counter_ns()

    def poll(self) -> int:
        """Consume new entries; return the number of ids seen so far."""
        log = self.rec.log
        end = len(log)
        if end > self.pos:
            self.completed += count_ids(log[self.pos : end])
            self.pos = end
            self.last_progress_ns = perf_counter_ns()
        return self.completed

    def wait_range(self, lo: int, hi: int) -> None:
        """Block until every id in ``[lo, hi)`` has been answered."""
        need = hi - lo
        while True:
            log = self.rec.log
            end = len(log)
            if end > self.pos:
                new = log[self.pos : end]
                self.pos = end
                self.completed += count_ids(new)
                need -= count_in_range(new, lo, hi)
                self.last_progress_ns = perf_counter_ns()
            if need <= 0:
                return
            self._block(f"query of samples [{lo}, {hi})", need)

    def wait_count(self, target: int) -> None:
        """Block until ``target`` ids have been answered in total."""
        while self.poll() < target:
            self._block("the outstanding samples", target - self.completed)

    def _block(self, what: str, missing: int) -> None:
        rec = self.rec
        rec.event.clear()
        rec.waiting = True
        if len(rec.log) == self.pos:
            rec.event.wait(_POLL_S)
        rec.waiting = False
        if self.timeout_ns and len(rec.log) == self.pos:
            silent = perf_counter_ns() - self.last_progress_ns
            if silent > self.timeout_ns:
                raise SUTTimeoutError(
                    f"the SUT stopped answering: no response for {silent / 1e9:.1f} s while "
                    f"waiting for {what}; {missing} sample(s) never answered "
                    f"(raise response_timeout_ms if the SUT is just slow)"
                )
