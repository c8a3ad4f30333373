"""``Batcher``: the server side's batching of the samples of concurrent HTTP requests.

Each runner (model instance) has a worker thread. A worker takes the first waiting
sample, then keeps collecting until the batch holds ``batch_size`` samples or
``max_wait_ms`` has passed, runs it, and resolves each request's future on its event
loop once all of the request's samples are done (as ``BatchingSUT`` does for queries).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from mlmeter.suts._batching import Runner


class _Pending:
    """One request's samples: filled by the workers, resolved on the event loop."""

    __slots__ = ("fut", "left", "lock", "loop", "outputs")

    def __init__(self, n: int, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fut: asyncio.Future[list[bytes]] = loop.create_future()
        self.outputs: list[bytes] = [b""] * n
        self.left = n
        self.lock = threading.Lock()

    def put(self, pos: int, out: bytes) -> None:
        with self.lock:
            self.outputs[pos] = out
            self.left -= 1
            done = self.left == 0
        if done:
            self.loop.call_soon_threadsafe(_settle, self.fut, self.outputs)

    def fail(self, exc: Exception) -> None:
        with self.lock:
            first = self.left > 0
            self.left = 0
        if first:
            self.loop.call_soon_threadsafe(_settle, self.fut, exc)


def _settle(fut: asyncio.Future[list[bytes]], result: list[bytes] | Exception) -> None:
    if fut.done():
        return
    if isinstance(result, Exception):
        fut.set_exception(result)
    else:
        fut.set_result(result)


Item = tuple[Any, _Pending, int]


class Batcher:
    """Worker threads, one per runner, that batch the samples of concurrent requests."""

    def __init__(self, runners: Sequence[Runner], batch_size: int, max_wait_ms: float) -> None:
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._max, self._wait = max(batch_size, 1), max_wait_ms / 1000.0
        self._threads = [
            threading.Thread(target=self._work, args=(r,), name=f"serve-{i}", daemon=True)
            for i, r in enumerate(runners)
        ]
        for t in self._threads:
            t.start()

    def submit(self, inputs: Sequence[Any], loop: asyncio.AbstractEventLoop) -> _Pending:
        """Queue the samples of one request."""
        pending = _Pending(len(inputs), loop)
        for pos, x in enumerate(inputs):
            self._queue.put((x, pending, pos))
        return pending

    def close(self) -> None:
        """Stop the workers after their current batch."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=10)

    def _next(self) -> list[Item] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch, deadline = [first], time.perf_counter() + self._wait
        while len(batch) < self._max:
            try:
                left = deadline - time.perf_counter()
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    def _work(self, runner: Runner) -> None:
        while (batch := self._next()) is not None:
            try:
                outputs = runner([x for x, _, _ in batch])
                if len(outputs) != len(batch):
                    raise RuntimeError(f"{len(outputs)} outputs for a batch of {len(batch)}")
            except Exception as exc:  # the model failed: these requests answer 500
                for _, pending, _ in batch:
                    pending.fail(exc)
                continue
            for (_, pending, pos), out in zip(batch, outputs, strict=True):
                pending.put(pos, bytes(out))
