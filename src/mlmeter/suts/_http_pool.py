"""Keep-alive HTTP/1.1 connections: asyncio protocols parsed by httptools.

Measured on loopback against a trivial uvicorn endpoint (docs/network.md), a bare
request costs 21-37 us of client CPU this way, against 65-105 us with aiohttp and
70-100 us with ``http.client``: the client must never be what limits a network run.

One pool (``Endpoint``) serves two modes. ``exchange`` awaits the whole answer
(``HttpSUT``). ``submit`` streams: it returns at once, and the answer's body goes to a
``BodySink`` piece by piece as each read arrives, so a streaming client can time every
token (``OpenAIClientSUT``); it runs on callbacks, with no task or future per request
(they cost 4 of the 32 us of client CPU an 8-token canned stream took). Deadlines are
checked by ``Endpoint.sweep``, which the owner calls every few milliseconds: cheaper than
a timer per request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import Protocol, cast
from urllib.parse import urlsplit

from mlmeter.errors import UsageError
from mlmeter.suts._wire import CONTENT_TYPE, WireError

_COPY_LIMIT = 1 << 16  # bodies below this go out in one write with the head
_SCHEMES = {"http": 80, "https": 443}


def split_url(url: str, *, tls: bool = False) -> tuple[str, int, str, str]:
    """(host, port, path prefix, netloc) of an ``http://HOST:PORT[/PATH]`` base URL
    (with ``tls``, an ``https://`` URL is accepted too)."""
    parts = urlsplit(url)
    allowed = ("http", "https") if tls else ("http",)
    if parts.scheme not in allowed or not parts.hostname:
        plain = "" if tls else " (plain HTTP)"
        raise UsageError(f"network SUT URL {url!r}: use http://HOST:PORT{plain}")
    try:
        port = parts.port or _SCHEMES[parts.scheme]
    except ValueError:
        raise UsageError(f"network SUT URL {url!r}: the port is not a number") from None
    return parts.hostname, port, parts.path.rstrip("/"), parts.netloc


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


class _Request:
    """A streamed request: its bytes, its sink, and how far it got."""

    __slots__ = ("data", "deadline", "done", "retried", "reused", "sink")

    def __init__(self, data: bytes, sink: BodySink) -> None:
        self.data, self.sink = data, sink
        self.deadline = 0.0
        self.done = self.retried = self.reused = False

    def finish(self, status: int, error: Exception | None) -> None:
        """Tell the sink how it ended (once)."""
        if not self.done:
            self.done = True
            self.sink.end(status, error)


class Endpoint:
    """One base URL: a pool of up to ``limit`` keep-alive connections, and counters.

    Requests are POSTs to the URL's path followed by ``path``, with body type
    ``content_type`` (and an ``Accept`` header when ``accept`` is given). With ``tls``,
    ``https://`` URLs are accepted (the server's certificate is verified).
    """

    def __init__(
        self,
        url: str,
        limit: int,
        timeout_s: float,
        *,
        path: str = "/v1/infer",
        content_type: str = CONTENT_TYPE,
        accept: str = "",
        tls: bool = False,
    ) -> None:
        host, port, prefix, netloc = split_url(url, tls=tls)
        self.url, self.host, self.port, self.limit = url, host, port, limit
        self.timeout_s = timeout_s
        self._ssl = ssl.create_default_context() if url.startswith("https:") else None
        extra = f"Accept: {accept}\r\n" if accept else ""
        self._head = (
            f"POST {prefix}{path} HTTP/1.1\r\nHost: {netloc}\r\n{extra}"
            f"Content-Type: {content_type}\r\nContent-Length: "
        ).encode("ascii")
        self._idle: list[Conn] = []
        self._all: set[Conn] = set()
        self._open = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[Conn | None]] = deque()  # exchange mode
        self._queued: deque[_Request] = deque()  # streaming mode
        self._connecting: dict[asyncio.Task[None], _Request] = {}
        self._closed = False
        self.outstanding = self.requests = self.samples = self.failed = 0

    # -- exchange: await the whole answer ------------------------------------------------

    async def exchange(self, encode: Callable[[], bytes]) -> tuple[int, bytes]:
        """POST the body ``encode()`` makes once a connection is free (a queued request
        holds no body); a reused connection the server had closed is retried once."""
        payload: bytes | None = None
        for attempt in (0, 1):
            conn, reused = await self._acquire()
            if payload is None:
                try:
                    payload = encode()
                except BaseException:
                    self._release(conn)
                    raise
            head = self._head + b"%d\r\n\r\n" % len(payload)
            deadline = asyncio.get_running_loop().time() + self.timeout_s
            try:
                result = await conn.send(head, payload, deadline)
            except ConnectionResetError:
                self._release(conn)
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:  # timed out or cancelled: the connection is unusable
                conn.close()
                self._release(conn)
                raise
            self._release(conn)
            return result
        raise AssertionError("unreachable")

    async def _acquire(self) -> tuple[Conn, bool]:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn, True
            self._drop(conn)
        if self._open >= self.limit:
            fut: asyncio.Future[Conn | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                given = await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._give_back(fut.result())
                raise
            if given is not None:
                return given, True
        else:
            self._open += 1
        return await self._connect(self.timeout_s), False

    async def _connect(self, timeout_s: float) -> Conn:
        """Open a connection in the slot held; the slot is freed if that fails."""
        try:
            if timeout_s <= 0:
                raise TimeoutError("no time left to connect")
            connecting = asyncio.get_running_loop().create_connection(
                Conn, self.host, self.port, ssl=self._ssl
            )
            _, conn = await asyncio.wait_for(connecting, timeout_s)
        except BaseException:
            self._give_back(None)
            raise
        self._all.add(conn)
        return conn

    # -- submit: stream the answer to a sink ---------------------------------------------

    def submit(self, payload: bytes, sink: BodySink) -> None:
        """POST ``payload`` now, or once a connection is free (first come, first served).

        ``sink.begin()`` marks the dispatch: the ``timeout_s`` deadline, connecting
        included, counts from there. A reused connection the server had closed before
        answering is retried once on a new one, on the same deadline. ``sink.end`` gets
        the status, or ``TimeoutError``, ``ConnectionRefusedError`` (or another
        ``OSError``) from connecting, ``ConnectionResetError`` when the connection
        closed before the end, ``WireError`` for malformed HTTP, what the sink raised,
        or ``ConnectionAbortedError`` when the endpoint was closed first.
        """
        req = _Request(self._head + b"%d\r\n\r\n" % len(payload) + payload, sink)
        if self._closed:
            req.finish(0, ConnectionAbortedError("the client is closed"))
            return
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                self._start(req, conn)
                return
            self._drop(conn)
        if self._open < self.limit:
            self._open += 1
            self._start(req, None)
        else:
            self._queued.append(req)

    def _start(self, req: _Request, conn: Conn | None) -> None:
        """Dispatch ``req`` on ``conn``, or on a new connection in the slot held."""
        req.sink.begin()
        req.deadline = asyncio.get_running_loop().time() + self.timeout_s
        if conn is None:
            self._connect_for(req)
        else:
            req.reused = True
            conn.stream(req.data, req.deadline, req.sink, self._ender(req))

    def _ender(self, req: _Request) -> OnEnd:
        return lambda conn, status, exc: self._ended(req, conn, status, exc)

    def _connect_for(self, req: _Request) -> None:
        task = asyncio.get_running_loop().create_task(self._connect_then_send(req))
        self._connecting[task] = req
        task.add_done_callback(self._connecting.pop)

    async def _connect_then_send(self, req: _Request) -> None:
        loop = asyncio.get_running_loop()
        try:
            conn = await self._connect(req.deadline - loop.time())
        except asyncio.CancelledError:  # the endpoint is closing
            req.finish(0, ConnectionAbortedError("the client is closed"))
            raise
        except Exception as exc:
            req.finish(0, exc)
            return
        if req.done:  # ended while connecting (the endpoint closed)
            conn.close()
            self._release(conn)
            return
        req.reused = False
        conn.stream(req.data, req.deadline, req.sink, self._ender(req))

    def _ended(self, req: _Request, conn: Conn, status: int, exc: Exception | None) -> None:
        stale = isinstance(exc, ConnectionResetError) and not conn.received
        if stale and req.reused and not req.retried and not self._closed:
            req.retried = True  # the server closed the idle connection: once more, anew
            self._all.discard(conn)  # its slot goes to the new connection
            self._connect_for(req)
            return
        req.finish(status, exc)  # before the connection goes to the next request
        self._release(conn)

    # -- the pool --------------------------------------------------------------------

    def _release(self, conn: Conn) -> None:
        if conn.usable:
            self._give_back(conn)
        else:
            self._drop(conn)

    def _drop(self, conn: Conn) -> None:
        self._all.discard(conn)
        self._give_back(None)

    def _give_back(self, conn: Conn | None) -> None:
        """Hand a connection (or, with None, a free slot) to a waiter, else keep it."""
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(conn)
                return
        if self._queued and not self._closed:
            self._start(self._queued.popleft(), conn)
        elif conn is None:
            self._open -= 1
        else:
            self._idle.append(conn)

    def sweep(self, now: float) -> None:
        """Time out the requests in flight past their deadline (cheaper than a timer each)."""
        for conn in list(self._all):
            conn.expire(now)

    def close(self) -> list[asyncio.Task[None]]:
        """Close every connection; streamed requests not ended yet end with
        ``ConnectionAbortedError``. Returns the cancelled connection attempts, to await."""
        self._closed = True
        closing = ConnectionAbortedError("the client is closed")
        while self._queued:
            self._queued.popleft().finish(0, closing)
        tasks = list(self._connecting)
        for task in tasks:
            self._connecting[task].finish(0, closing)
            task.cancel()
        for conn in list(self._all):
            conn.abort(closing)
        self._all.clear()
        self._idle.clear()
        return tasks
