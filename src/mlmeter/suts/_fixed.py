"""``FixedLatencySUT``: N worker threads, each serving one sample at a time."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from mlmeter.clock import set_timer_slack
from mlmeter.loadgen import QuerySampleResponse, complete
from mlmeter.suts._pool import WorkerPoolSUT


class FixedLatencySUT(WorkerPoolSUT):
    """A SUT whose service time is fixed (or random), with ``workers`` servers.

    It is an M/D/c (or M/G/c) queue: useful to check the harness against queueing
    theory and as a stand-in for a real model. ``distribution`` is ``"fixed"``,
    ``"uniform"`` (``service_ms`` ± ``jitter_ms``) or ``"exponential"`` (mean
    ``service_ms``); random draws use ``seed``.
    """

    def __init__(
        self,
        service_ms: float = 1.0,
        workers: int = 1,
        *,
        distribution: str = "fixed",
        jitter_ms: float = 0.0,
        seed: int = 0,
        response_bytes: int = 0,
        name: str | None = None,
    ) -> None:
        if service_ms < 0 or workers < 1:
            raise ValueError("service_ms must be >= 0 and workers >= 1")
        self._draw = _sampler(distribution, service_ms / 1e3, jitter_ms / 1e3, seed)
        self._payload = bytes(response_bytes)
        name = name or f"FixedLatencySUT({service_ms:g}ms x{workers})"
        super().__init__(name, [self._serve] * workers)

    def _serve(self) -> None:
        set_timer_slack(1)
        get, draw, payload = self._queue.get, self._draw, self._payload
        while (s := get()) is not None:
            end = time.perf_counter() + draw()
            remaining = end - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
            complete([QuerySampleResponse(s.id, payload)])


def _sampler(kind: str, mean_s: float, jitter_s: float, seed: int) -> Callable[[], float]:
    rng = random.Random(seed)
    lock = threading.Lock()
    if kind == "fixed":
        return lambda: mean_s
    if kind == "uniform":

        def uniform() -> float:
            with lock:
                return max(0.0, rng.uniform(mean_s - jitter_s, mean_s + jitter_s))

        return uniform
    if kind == "exponential":

        def expo() -> float:
            with lock:
                return rng.expovariate(1.0 / mean_s) if mean_s > 0 else 0.0

        return expo
    raise ValueError(f"unknown distribution {kind!r}: use fixed, uniform or exponential")
