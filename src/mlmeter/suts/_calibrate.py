"""The streaming client's own ceiling, measured against a local echo server.

``measure_ceiling`` drives a canned streaming server in another process (``echo_server``)
with the client (same workers and concurrency) for about a second, closed loop: every
answer is the same 8-token SSE stream, sent at once. The requests/s it reaches is the most
this client can measure on this machine; its dispatch-to-first-token time is its own
overhead. The LLM workload runs it before a run (``mlmeter.workloads.llm._calibrate``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from time import perf_counter_ns
from typing import Any

import numpy as np

from mlmeter.errors import RunError
from mlmeter.loadgen import QuerySample
from mlmeter.suts._client_workers import ProcessClientSUT
from mlmeter.suts._openai_client import ClientOptions, OpenAIClientSUT, request_body

ECHO_TOKENS = 8
IntArray = np.ndarray[Any, np.dtype[np.int64]]


def _canned_response() -> bytes:
    def event(obj: Any) -> bytes:
        return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"

    body = event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    for i in range(ECHO_TOKENS):
        body += event({"choices": [{"index": 0, "delta": {"content": f"t{i} "}}]})
    body += event({"choices": [], "usage": {"completion_tokens": ECHO_TOKENS}}) + event(b"[DONE]")
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


def next_request(buf: bytes) -> bytes | None:
    """What follows the first whole HTTP/1.1 request (headers and ``Content-Length`` body)
    in ``buf``; None while that request is still incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].lower()
    at = head.find(b"content-length:")
    length = int(head[at + 15 :].split(b"\r\n")[0]) if at >= 0 else 0
    return buf[end + 4 + length :] if len(buf) >= end + 4 + length else None


class _Echo(asyncio.Protocol):
    """HTTP/1.1 keep-alive: every request (headers + Content-Length body) gets the canned answer."""

    response = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: Any = transport  # uvloop's transports are not asyncio.Transport
        self._buf = b""

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (rest := next_request(self._buf)) is not None:
            self._buf = rest
            self._transport.write(self.response)


def _echo_main(conn: Connection) -> None:
    """The echo server process: serve on a free port until the parent closes ``conn``."""
    _Echo.response = _canned_response()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Echo, "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        await loop.run_in_executor(None, _wait_eof, conn)
        server.close()
        await server.wait_closed()

    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


def _wait_eof(conn: Connection) -> None:
    try:
        conn.recv()
    except EOFError:
        return


@contextmanager
def echo_server() -> Iterator[str]:
    """A canned streaming server in a child process; yields its /v1 URL."""
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=_echo_main, args=(theirs,), name="llm-echo", daemon=True)
    proc.start()
    theirs.close()
    try:
        if not mine.poll(30):
            raise RunError("the calibration echo server did not start within 30 s")
        yield f"http://127.0.0.1:{mine.recv()}/v1"
    finally:
        mine.close()
        proc.join(timeout=10)


class _ClosedLoop:
    """A reporter that issues a new request for each one that ends, until the deadline."""

    def __init__(self, concurrency: int, duration_ns: int) -> None:
        self.sut: OpenAIClientSUT | ProcessClientSUT | None = None
        self.concurrency = concurrency
        self._duration_ns = duration_ns
        self.start = self.deadline = 0
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._active = concurrency
        self.finished = threading.Event()

    def begin(self) -> None:
        assert self.sut is not None
        self.start = perf_counter_ns()
        self.deadline = self.start + self._duration_ns
        self.sut.issue_queries([QuerySample(next(self._ids), 0) for _ in range(self.concurrency)])

    def first_token(self, sample_id: int, data: bytes) -> None:
        return None

    def complete(self, sample_id: int, data: bytes, n_tokens: int, fault: str) -> None:
        assert self.sut is not None
        if perf_counter_ns() < self.deadline and not fault:
            self.sut.issue_queries([QuerySample(next(self._ids), 0)])
            return
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.finished.set()


def measure_ceiling(
    workers: int, concurrency: int, duration_s: float = 1.0
) -> tuple[dict[str, Any], IntArray]:
    """The client's ceiling (requests/s) against the echo server, and the time from
    dispatch to first token (ns) of each request answered within ``duration_s``."""
    concurrency = concurrency or 64
    body = request_body("calibration", "echo", ECHO_TOKENS)
    loop = _ClosedLoop(concurrency, int(duration_s * 1e9))
    with echo_server() as url:
        opts = ClientOptions(url, "chat", 10.0, concurrency)
        sut: OpenAIClientSUT | ProcessClientSUT = (
            OpenAIClientSUT(opts, lambda _: body, reporter=loop)
            if workers == 1
            else ProcessClientSUT(opts, lambda _: body, workers, reporter=loop)
        )
        loop.sut = sut
        try:
            loop.begin()
            loop.finished.wait(duration_s + 30)
            streams = sut.take_streams()
        finally:
            sut.close()
    done = [s for s in streams if not s.fault and s.end <= loop.deadline]
    ttft = np.array([s.first_token - s.dispatched for s in done], dtype=np.int64)
    return {
        "server": "canned 8-token SSE echo (loopback, another process)",
        "workers": workers,
        "concurrency": concurrency,
        "duration_s": duration_s,
        "requests_per_s": len(done) / duration_s,
        "tokens_per_s": len(done) * ECHO_TOKENS / duration_s,
        "failed": sum(1 for s in streams if s.fault),
    }, ttft
