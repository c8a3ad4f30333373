"""``OpenAIClientSUT``: the LoadGen's samples as streaming OpenAI requests over HTTP.

Each sample becomes one POST to ``/v1/completions`` or ``/v1/chat/completions`` with
``stream: true``. The requests run on an asyncio loop (uvloop when installed) in a
thread of their own, over the keep-alive connection pool of ``HttpSUT`` (asyncio
protocols parsed by httptools), so ``issue_queries`` only appends to a deque and
returns: the loadgen's thread never waits for the network. The pool hands what each
read brings of a streamed body to the request's ``_Reader`` as it arrives, which times
it. On the self-calibration's canned 8-token stream this costs about 28 us of client
CPU per request, against 108 us with aiohttp (``benchmarks/llm_client.py``). Timeouts
are checked by a sweep every ``timeout_s / 20`` (5 ms to 0.5 s), so they fire that late
at most.

Per sample the client records when it dispatched the request, the first byte, every
chunk that carried generated text (the first of them is the first token: a role-only
or usage-only chunk is not a token) and the server's usage count. It calls
``first_token`` at the first token and ``complete`` with ``n_tokens`` at the end.

A failed request (connection refused, timeout, HTTP error, a stream cut before
``[DONE]``, a malformed chunk) is still answered, so nothing hangs: ``first_token``
(if not sent yet) and ``complete`` at the time of the failure, with the tokens
received so far. Its ``Stream.fault`` names the reason; ``faults()`` counts them.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter_ns
from typing import Any, Protocol

from mlmeter.loadgen import (
    QuerySample,
    QuerySampleResponse,
    complete,
    first_token,
    sample_error,
)
from mlmeter.suts._http_stream import StreamEndpoint
from mlmeter.suts._sse import MalformedChunk, SSEDecoder, parse_chunk
from mlmeter.suts._wire import WireError

_UNLIMITED = 1 << 30  # connections when concurrency is 0 (open loop)


@dataclass(frozen=True)
class ClientOptions:
    """How the client talks to the endpoint."""

    endpoint: str  # the base URL, e.g. http://127.0.0.1:8000/v1
    api: str = "chat"  # "chat" (/chat/completions) or "completions"
    timeout_s: float = 60.0  # per request, from dispatch to [DONE]
    concurrency: int = 0  # most requests in flight; 0: no limit (open loop)

    @property
    def path(self) -> str:
        """The POST path for ``api``, below the endpoint."""
        return "/chat/completions" if self.api == "chat" else "/completions"

    @property
    def url(self) -> str:
        """The POST URL for ``api``."""
        return self.endpoint.rstrip("/") + self.path


def request_body(prompt: str | list[dict[str, str]], model: str, max_tokens: int) -> bytes:
    """A streaming request body: ``prompt`` as text (completions) or messages (chat)."""
    key = "prompt" if isinstance(prompt, str) else "messages"
    body: dict[str, Any] = {
        "model": model,
        key: prompt,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    return json.dumps(body, separators=(",", ":")).encode()


class Stream:
    """What the client saw of one request; times are ``perf_counter_ns`` values."""

    __slots__ = (
        "counts",
        "dispatched",
        "end",
        "fault",
        "first_byte",
        "first_token",
        "id",
        "index",
        "text",
        "times",
        "usage",
    )

    def __init__(self, sample: QuerySample) -> None:
        self.id = sample.id
        self.index = sample.index
        self.dispatched = self.first_byte = self.first_token = self.end = 0
        self.times: list[int] = []  # arrival of each chunk that carried text
        self.counts: list[int] = []  # tokens in that chunk (logprobs), else 1
        self.text: list[str] = []
        self.usage: int | None = None  # the server's completion_tokens
        self.fault = ""  # "" when the request succeeded

    @property
    def chunk_tokens(self) -> int:
        """Tokens counted from the chunks."""
        return sum(self.counts)

    @property
    def n_tokens(self) -> int:
        """The server's count when it sent one, else the chunk count."""
        return self.usage if self.usage is not None else self.chunk_tokens


class Reporter(Protocol):
    """Where the client reports tokens: the loadgen by default (``LoadgenReporter``)."""

    def first_token(self, sample_id: int, data: bytes) -> None:
        """The first token of ``sample_id`` arrived."""

    def complete(self, sample_id: int, data: bytes, n_tokens: int, fault: str) -> None:
        """``sample_id`` ended; ``fault`` is "" or why it failed."""


class LoadgenReporter:
    """Reports to the loadgen run in progress (``first_token`` and ``complete``)."""

    def first_token(self, sample_id: int, data: bytes) -> None:
        """Call ``mlmeter.loadgen.first_token``."""
        first_token([QuerySampleResponse(sample_id, data)])

    def complete(self, sample_id: int, data: bytes, n_tokens: int, fault: str) -> None:
        """Call ``mlmeter.loadgen.complete`` with ``n_tokens``; count a fault first."""
        if fault:
            sample_error(fault)
        complete([QuerySampleResponse(sample_id, data, n_tokens=n_tokens)])


class _Fault(Exception):
    """A failed request; ``args[0]`` is the reason counted in the results."""


class _Reader:
    """One request's ``BodySink``: times each piece of the stream as it arrives, decodes
    its events into the ``Stream`` and reports the first token and the end."""

    __slots__ = ("decoder", "report", "st", "status")

    def __init__(self, st: Stream, report: Reporter) -> None:
        self.st, self.report = st, report
        self.decoder = SSEDecoder()
        self.status = 0  # the HTTP status, once the head arrived

    def begin(self) -> None:
        """The request leaves now."""
        self.st.dispatched = perf_counter_ns()

    def head(self, status: int) -> None:
        """The status line arrived (an error body is read and ignored)."""
        self.st.first_byte = perf_counter_ns()
        self.status = status

    def body(self, data: bytes) -> None:
        """A piece of the stream; answers the sample at ``[DONE]``."""
        now = perf_counter_ns()
        if self.status == 200 and not self.st.end:
            self._events(self.decoder.feed(data), now)

    def end(self, status: int, error: Exception | None) -> None:
        """The request ended: answer the sample now unless ``[DONE]`` did already (a
        failure after ``[DONE]``, while draining the rest, is no fault)."""
        st = self.st
        if st.end:
            return
        if error is not None and not isinstance(error, ConnectionResetError):
            st.fault = _reason(error)
        elif self.status != 200:  # an error status, or no answer (reset before the head)
            st.fault = f"http_{self.status}" if self.status else "stream_cut"
        else:  # the body ended, with the connection or in its framing
            try:
                self._events(self.decoder.close(), perf_counter_ns())
            except (_Fault, MalformedChunk) as exc:
                st.fault = _reason(exc)
            else:
                st.fault = "" if st.end else "stream_cut"
        if not st.end:
            answer(st, self.report)

    def _events(self, payloads: list[str], now: int) -> None:
        st = self.st
        for payload in payloads:
            chunk = parse_chunk(payload)
            if chunk.done:
                answer(st, self.report)
                return
            if chunk.error is not None:
                raise _Fault("server_error")
            if chunk.usage_tokens is not None:
                st.usage = chunk.usage_tokens
            if chunk.text:
                if not st.times:
                    st.first_token = now
                    self.report.first_token(st.id, chunk.text.encode())
                st.times.append(now)
                st.counts.append(chunk.n_tokens or 1)
                st.text.append(chunk.text)


def answer(st: Stream, report: Reporter) -> None:
    """Report the sample (a failed one at the time of its failure)."""
    st.end = perf_counter_ns()
    if not st.dispatched:  # failed before it left
        st.dispatched = st.end
    if not st.times:
        report.first_token(st.id, b"")
    report.complete(st.id, "".join(st.text).encode(), st.n_tokens, st.fault)


class OpenAIClientSUT:
    """A SUT that forwards each sample to an OpenAI-compatible streaming endpoint."""

    def __init__(
        self,
        options: ClientOptions,
        body: Callable[[int], bytes],
        *,
        name: str = "",
        reporter: Reporter | None = None,
    ) -> None:
        """``body(index)`` returns the request body of QSL sample ``index``."""
        self._opts = options
        self._body = body
        self._report = reporter or LoadgenReporter()
        self._name = name or f"Network SUT: OpenAI client -> {options.endpoint}"
        self._endpoint = StreamEndpoint(
            options.endpoint,
            options.concurrency or _UNLIMITED,
            options.timeout_s,
            path=options.path,
            content_type="application/json",
            accept="text/event-stream",
            tls=True,
        )
        self._pending: deque[QuerySample] = deque()
        self._wake_scheduled = False
        self.streams: list[Stream] = []
        self._sweep_s = min(max(options.timeout_s / 20, 0.005), 0.5)  # timeouts fire this late
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop = _new_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="openai-client", daemon=True
        )
        self._thread.start()
        self._loop.call_soon_threadsafe(self._sweep)

    @property
    def name(self) -> str:
        """Reported as ``sut_name``."""
        return self._name

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Hand the samples to the event loop (never blocks)."""
        self._pending.extend(samples)
        if not self._wake_scheduled:
            self._wake_scheduled = True
            self._loop.call_soon_threadsafe(self._drain)

    def flush_queries(self) -> None:
        """Every request is sent as soon as it is issued: nothing is held back."""

    def take_streams(self) -> list[Stream]:
        """The streams recorded since the last call (one run's worth)."""
        out, self.streams = self.streams, []
        return out

    def faults(self) -> Counter[str]:
        """Failed requests so far, by reason."""
        return Counter(s.fault for s in self.streams if s.fault)

    def close(self) -> None:
        """Cancel requests in flight, close the connections, stop the loop thread."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    # -- the event loop thread ---------------------------------------------------------

    async def _shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        connecting = self._endpoint.close()  # requests not answered yet: "cancelled"
        await asyncio.gather(*connecting, return_exceptions=True)
        await asyncio.sleep(0)  # let the transports finish closing

    def _sweep(self) -> None:
        now = self._loop.time()
        self._endpoint.sweep(now)
        self._sweeper = self._loop.call_at(now + self._sweep_s, self._sweep)

    def _drain(self) -> None:
        self._wake_scheduled = False
        pending, submit, report = self._pending, self._endpoint.submit, self._report
        while pending:
            st = Stream(pending.popleft())
            self.streams.append(st)
            try:
                payload = self._body(st.index)
            except Exception as exc:  # a bug: the sample is still answered
                st.fault = f"bug:{type(exc).__name__}"
                answer(st, report)
                continue
            submit(payload, _Reader(st, report))


def _reason(exc: Exception) -> str:
    """The fault reason counted for ``exc``."""
    if isinstance(exc, _Fault):
        return str(exc.args[0])
    if isinstance(exc, MalformedChunk | UnicodeDecodeError):
        return "malformed_chunk"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionAbortedError):  # the client closed first
        return "cancelled"
    if isinstance(exc, ConnectionResetError):
        return "stream_cut"
    if isinstance(exc, WireError):
        return "malformed_http"
    if isinstance(exc, OSError):
        return "connection_error"
    return f"bug:{type(exc).__name__}"


def _new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else the default one."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
