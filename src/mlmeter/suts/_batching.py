"""``BatchingSUT``: worker threads that group samples into batches for a model runner.

A runner maps a list of loaded inputs to a list of response payloads (bytes). Each
instance (worker thread) has its own runner, so instances can hold separate model
sessions. A worker takes the first waiting sample, then keeps collecting until the
batch is full or ``max_wait_ms`` has passed since that first sample.
"""

from __future__ import annotations

import queue
import time
import traceback
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from mlmeter.loadgen import QuerySample, QuerySampleResponse, abort, complete
from mlmeter.suts._pool import WorkerPoolSUT

Runner = Callable[[list[Any]], list[bytes]]
InputFn = Callable[[int], Any]


class BatchingSUT(WorkerPoolSUT):
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
        self._inputs = inputs
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000.0
        super().__init__(name, [partial(self._serve, r) for r in runners])

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
