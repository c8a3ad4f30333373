"""``StreamEndpoint``: the connection pool of ``Endpoint`` with a streaming mode, ``submit``.

``submit`` returns at once, and the answer's body goes to a ``BodySink`` piece by piece
as each read arrives, so a streaming client can time every token (``OpenAIClientSUT``).
It runs on callbacks, with no task or future per request (they cost 4 of the 32 us of
client CPU an 8-token canned stream took). Requests wait for a connection first come,
first served; a reused connection the server had closed while idle is retried once.
"""

from __future__ import annotations

import asyncio
from collections import deque

from mlmeter.suts._http_conn import BodySink, Conn, OnEnd
from mlmeter.suts._http_pool import Endpoint


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


class StreamEndpoint(Endpoint):
    """An ``Endpoint`` whose answers can also stream to a sink (``submit``)."""

    def _init_mode(self) -> None:
        """The streaming queue: requests waiting for a connection, and connection attempts."""
        self._queued: deque[_Request] = deque()
        self._connecting: dict[asyncio.Task[None], _Request] = {}

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

    def _take_queued(self, conn: Conn | None) -> bool:
        if self._queued and not self._closed:
            self._start(self._queued.popleft(), conn)
            return True
        return False

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
        super().close()
        return tasks
