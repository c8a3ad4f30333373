"""``ProcessClientSUT``: the streaming client in several processes, for when one core is not enough.

Each worker process runs an ``OpenAIClientSUT`` on its own event loop. The parent sends
it samples (id, QSL index, request body) over a pipe, round robin; the worker sends
back ``first_token`` and ``complete`` events, which a reader thread per worker passes
to the loadgen. After the run, the workers send their raw ``Stream`` records; their
times are ``perf_counter_ns`` values (CLOCK_MONOTONIC, one clock for every process), so
the merged percentiles are exact, not averages of per-worker percentiles.

The loadgen timestamps first tokens and completions when the parent's reader thread
calls it, so its TTFT and latency include the pipe hop (tens of microseconds); the
client-side figures (ITL, dispatch-based TTFT) do not.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from mlmeter.errors import RunError
from mlmeter.loadgen import QuerySample
from mlmeter.suts._openai_client import (
    ClientOptions,
    LoadgenReporter,
    OpenAIClientSUT,
    Reporter,
    Stream,
)


class ProcessClientSUT:
    """``workers`` processes, each with its own event loop and connection pool."""

    def __init__(
        self,
        options: ClientOptions,
        body: Callable[[int], bytes],
        workers: int,
        *,
        name: str = "",
        reporter: Reporter | None = None,
    ) -> None:
        per_worker = -(-options.concurrency // workers)  # ceil; 0 stays 0
        ctx = multiprocessing.get_context("spawn")
        self._name = name or f"Network SUT: OpenAI client x{workers} -> {options.endpoint}"
        self._body = body
        self._report = reporter or LoadgenReporter()
        self._lock = threading.Lock()  # issue_queries may come from several threads
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._readers: list[threading.Thread] = []
        self._faults: Counter[str] = Counter()
        self._replies: list[list[Stream]] = []
        self._replied = threading.Semaphore(0)
        self._next = 0
        for i in range(workers):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main,
                args=(theirs, replace(options, concurrency=per_worker)),
                name=f"llm-client-{i}",
                daemon=True,
            )
            proc.start()
            theirs.close()
            reader = threading.Thread(target=self._read, args=(mine,), daemon=True)
            reader.start()
            self._conns.append(mine)
            self._procs.append(proc)
            self._readers.append(reader)
        self._wait_for(len(self._conns), "start")

    @property
    def name(self) -> str:
        """Reported as ``sut_name``."""
        return self._name

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Send the samples to the workers, round robin (a pipe write, no waiting)."""
        n = len(self._conns)
        batches: list[list[tuple[int, int, bytes]]] = [[] for _ in range(n)]
        with self._lock:
            for s in samples:
                batches[self._next].append((s.id, s.index, self._body(s.index)))
                self._next = (self._next + 1) % n
            for conn, batch in zip(self._conns, batches, strict=True):
                if batch:
                    conn.send(("issue", batch))

    def flush_queries(self) -> None:
        """Nothing is held back."""

    def take_streams(self) -> list[Stream]:
        """Every worker's streams since the last call, merged in sample-id order."""
        asked = 0
        for conn in self._conns:
            with contextlib.suppress(OSError):  # a dead worker's streams are lost
                conn.send(("take",))
                asked += 1
        self._replies = []
        self._wait_for(asked, "send its streams")
        merged = [s for part in self._replies for s in part if isinstance(s, Stream)]
        return sorted(merged, key=lambda s: s.id)

    def _wait_for(self, n: int, what: str) -> None:
        for _ in range(n):
            if not self._replied.acquire(timeout=60):
                raise RunError(f"an LLM client worker process did not {what} within 60 s")

    def faults(self) -> Counter[str]:
        """Failed requests so far, by reason."""
        return Counter(self._faults)

    def close(self) -> None:
        """Stop the workers (their requests in flight are cancelled)."""
        for conn in self._conns:
            with contextlib.suppress(OSError):  # a worker that died already
                conn.send(("close",))
        for proc, reader, conn in zip(self._procs, self._readers, self._conns, strict=True):
            proc.join(timeout=30)
            reader.join(timeout=5)
            conn.close()
        self._conns = []

    def _read(self, conn: Connection) -> None:
        """Pass one worker's events to the loadgen until it closes."""
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                return
            kind = msg[0]
            if kind == "ft":
                self._report.first_token(msg[1], msg[2])
            elif kind == "done":
                if msg[4]:
                    self._faults[msg[4]] += 1
                self._report.complete(msg[1], msg[2], msg[3], msg[4])
            elif kind in ("streams", "ready"):
                self._replies.append(msg[1])
                self._replied.release()


class _PipeReporter:
    """A worker's reporter: events go to the parent over the pipe."""

    def __init__(self, conn: Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def first_token(self, sample_id: int, data: bytes) -> None:
        with self._lock:
            self._conn.send(("ft", sample_id, data))

    def complete(self, sample_id: int, data: bytes, n_tokens: int, fault: str) -> None:
        with self._lock:
            self._conn.send(("done", sample_id, data, n_tokens, fault))


def _worker_main(conn: Connection, options: ClientOptions) -> None:
    """A worker process: issue what the parent sends, report back, until "close"."""
    bodies: dict[int, bytes] = {}
    lock = threading.Lock()
    sut = OpenAIClientSUT(options, bodies.__getitem__, reporter=_PipeReporter(conn, lock))
    conn.send(("ready", []))
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "issue":
                for _, index, body in msg[1]:
                    bodies[index] = body
                sut.issue_queries([QuerySample(sid, index) for sid, index, _ in msg[1]])
            elif msg[0] == "take":
                streams = sut.take_streams()
                with lock:
                    conn.send(("streams", streams))
            else:
                break
    finally:
        sut.close()
        conn.close()
