"""``WorkerPoolSUT``: the queue and worker threads that thread-based SUTs share."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence

from mlmeter.loadgen import QuerySample

STOP = None  # put once per worker to end it


class WorkerPoolSUT:
    """Queues issued samples for worker threads; subclasses say what a worker does."""

    def __init__(self, name: str, workers: Sequence[Callable[[], None]]) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[QuerySample | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=work, name=f"sut-{i}", daemon=True)
            for i, work in enumerate(workers)
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
        """Stop the workers (each finishes its current sample or batch first)."""
        for _ in self._threads:
            self._queue.put(STOP)
        for t in self._threads:
            t.join(timeout=10)

    def __enter__(self) -> WorkerPoolSUT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
