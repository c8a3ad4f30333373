"""``BatchingSUT``: worker threads that group samples into batches for a model runner.

A runner maps a list of loaded inputs to a list of response payloads (bytes). Each
instance (worker thread) has its own runner, so instances can hold separate model
sessions. A worker takes the first waiting sample, then keeps collecting until the
batch is full or ``max_wait_ms`` has passed since that first sample.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from mlmeter.loadgen import QuerySample, QuerySampleResponse, abort, complete

Runner = Callable[[list[Any]], list[bytes]]
InputFn = Callable[[int], Any]

_STOP = None


class BatchingSUT:
    """Serve samples in batches of up to ``max_batch`` with ``instances`` workers."""

    def __init__(
        self,
        runners: Sequence[Runner],
        inputs: InputFn,
        *,
        max_batch: int = 1,
        max_wait_ms: float = 0.0,
        name: str = "BatchingSUT",
    ) -> None:
        if not runners or max_batch < 1 or max_wait_ms < 0:
            raise ValueError("need at least one runner, max_batch >= 1, max_wait_ms >= 0")
        self._name = name
        self._inputs = inputs
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000.0
        self._queue: queue.SimpleQueue[QuerySample | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, args=(r,), name=f"sut-{i}", daemon=True)
            for i, r in enumerate(runners)
        ]
        for t in self._threads:
            t.start()

    @property
    def name(self) -> str:
        """The SUT name for the logs."""
        return self._name

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Queue the samples for the workers."""
        put = self._queue.put
        for s in samples:
            put(s)

    def flush_queries(self) -> None:
        """Workers drain the queue on their own; nothing is held back."""

    def close(self) -> None:
        """Stop the workers."""
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            t.join(timeout=10)

    def _next_batch(self) -> list[QuerySample] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.perf_counter() + self._max_wait
        while len(batch) < self._max_batch:
            try:
                remaining = deadline - time.perf_counter()
                item = (
                    self._queue.get_nowait()
                    if remaining <= 0
                    else self._queue.get(timeout=remaining)
                )
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # let this worker finish the batch, then stop
                break
            batch.append(item)
        return batch

    def _serve(self, runner: Runner) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                outputs = runner([self._inputs(s.index) for s in batch])
            except Exception as exc:  # the model failed: end the run with the reason
                detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
                abort(f"the model raised in {self._name}: {detail}")
                return
            complete(
                [QuerySampleResponse(s.id, out) for s, out in zip(batch, outputs, strict=True)]
            )
