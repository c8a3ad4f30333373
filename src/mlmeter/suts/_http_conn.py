"""One keep-alive HTTP/1.1 connection (``Conn``): an asyncio protocol parsed by httptools.

Measured on loopback against a trivial uvicorn endpoint (docs/network.md), a bare
request costs 21-37 us of client CPU this way, against 65-105 us with aiohttp and
70-100 us with ``http.client``: the client must never be what limits a network run.
A connection answers either a future (the whole answer, ``Endpoint.exchange``) or a
``BodySink`` that gets the body piece by piece as each read arrives
(``StreamEndpoint.submit``). Pools of them: ``mlmeter.suts._http_pool``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, cast

from mlmeter.suts._wire import WireError

_COPY_LIMIT = 1 << 16  # bodies below this go out in one write with the head


class BodySink(Protocol):
    """Where ``Endpoint.submit`` reports one streamed request, on the loop's thread.

    An exception raised by ``head`` or ``body`` fails the request with it (and closes
    the connection): that is how a sink rejects a malformed stream. ``end`` must not raise.
    """

    def begin(self) -> None:
        """A connection (or a free slot to open one) is ours: the request leaves now."""

    def head(self, status: int) -> None:
        """The status line and headers arrived."""

    def body(self, data: bytes) -> None:
        """What one read brought of the body (HTTP chunk framing removed)."""

    def end(self, status: int, error: Exception | None) -> None:
        """Called once: the answer ended (``error`` None), or the request failed."""


OnEnd = Callable[["Conn", int, "Exception | None"], None]


class Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request at a time (no pipelining)."""

    def __init__(self) -> None:
        import httptools

        self._parser = httptools.HttpResponseParser(self)
        self._parse_error = httptools.HttpParserError
        self._body: list[bytes] = []
        self._fut: asyncio.Future[tuple[int, bytes]] | None = None  # exchange mode
        self._sink: BodySink | None = None  # streaming mode
        self._on_end: OnEnd | None = None
        self.transport: asyncio.Transport | None = None
        self.usable = False
        self.received = False  # a byte of the answer in flight arrived
        self.answered = 0  # responses received on this connection
        self.deadline = 0.0  # loop time by which the request in flight must be answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Ready to send."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.usable = True

    def data_received(self, data: bytes) -> None:
        """Feed the parser; a sink gets the body pieces of this read in one call."""
        self.received = True
        try:
            self._parser.feed_data(data)
        except self._parse_error as exc:
            self._fail(WireError(f"malformed HTTP response ({exc})"))
        if self._sink is not None and self._body:
            self._deliver(self._sink)

    def on_headers_complete(self) -> None:
        """Parser callback: the head arrived (passed on in streaming mode)."""
        if self._sink is not None:
            try:
                self._sink.head(self._parser.get_status_code())
            except Exception as exc:  # the sink refuses the answer
                self._fail(exc)

    def on_body(self, body: bytes) -> None:
        """Parser callback: a piece of the body."""
        self._body.append(body)

    def _deliver(self, sink: BodySink) -> None:
        body, self._body = self._body, []
        try:
            sink.body(body[0] if len(body) == 1 else b"".join(body))
        except Exception as exc:  # the sink refuses the stream
            self._fail(exc)

    def on_message_complete(self) -> None:
        """Parser callback: a whole response."""
        if self._sink is not None and self._body:
            self._deliver(self._sink)
        status, body = self._parser.get_status_code(), b"".join(self._body)
        self._body = []
        self.answered += 1
        if not self._parser.should_keep_alive():
            self.close()
        self._finish(status, body, None)

    def connection_lost(self, exc: Exception | None) -> None:
        """The peer closed: fail the request in flight, if any."""
        self.usable = False
        self._fail(ConnectionResetError("the server closed the connection"))

    def _fail(self, exc: Exception) -> None:
        self.close()
        self._finish(0, b"", exc)

    def _finish(self, status: int, body: bytes, exc: Exception | None) -> None:
        """End the request in flight (if any) with its answer or ``exc``."""
        self.deadline = 0.0
        self._sink = None
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            if exc is None:
                fut.set_result((status, body))
            else:
                fut.set_exception(exc)
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end(self, status, exc)

    def expire(self, now: float) -> None:
        """Fail the request in flight with ``TimeoutError`` if its deadline has passed."""
        if 0 < self.deadline <= now:
            self._fail(TimeoutError("no answer in time"))

    def abort(self, exc: Exception) -> None:
        """Fail the request in flight, if any, with ``exc``, and close."""
        self._fail(exc)

    def send(
        self, head: bytes, payload: bytes, deadline: float
    ) -> asyncio.Future[tuple[int, bytes]]:
        """Write a request; the future gives (status, body), or fails by ``deadline``."""
        self._fut = fut = asyncio.get_running_loop().create_future()
        self._write(head, payload, deadline)
        return fut

    def stream(self, request: bytes, deadline: float, sink: BodySink, on_end: OnEnd) -> None:
        """Write a whole request; the answer goes to ``sink``, then ``on_end`` is called
        with the status, or the error by which it failed (by ``deadline`` at the latest)."""
        self._sink, self._on_end = sink, on_end
        self._write(request, b"", deadline)

    def _write(self, head: bytes, payload: bytes, deadline: float) -> None:
        assert self.transport is not None
        self.received = False
        self.deadline = deadline
        if len(payload) < _COPY_LIMIT:  # one segment
            self.transport.write(head + payload if payload else head)
        else:  # no copy of a large body
            self.transport.write(head)
            self.transport.write(payload)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.usable = False
        if self.transport is not None:
            self.transport.close()
