"""``Endpoint``: a pool of keep-alive HTTP/1.1 connections (``Conn``) to one base URL.

Its own mode is ``exchange``, which awaits the whole answer (``HttpSUT``);
``StreamEndpoint`` (``mlmeter.suts._http_stream``) adds the streaming mode on the same
pool. Deadlines are checked by ``Endpoint.sweep``, which the owner calls every few
milliseconds: cheaper than a timer per request.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

from mlmeter.errors import UsageError
from mlmeter.suts._http_conn import Conn
from mlmeter.suts._wire import CONTENT_TYPE

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
        self._closed = False
        self.outstanding = self.requests = self.samples = self.failed = 0
        self._init_mode()

    def _init_mode(self) -> None:
        """Set up a subclass's own mode, last in ``__init__`` (so it keeps this signature)."""

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
        if self._take_queued(conn):
            return
        if conn is None:
            self._open -= 1
        else:
            self._idle.append(conn)

    def sweep(self, now: float) -> None:
        """Time out the requests in flight past their deadline (cheaper than a timer each)."""
        for conn in list(self._all):
            conn.expire(now)

    def _take_queued(self, conn: Conn | None) -> bool:
        """Whether a queued request took ``conn`` (or, with None, the free slot)."""
        return False

    def close(self) -> list[asyncio.Task[None]]:
        """Close every connection; a request in flight fails with ``ConnectionAbortedError``.
        Returns the cancelled connection attempts, to await (none here)."""
        self._closed = True
        closing = ConnectionAbortedError("the client is closed")
        for conn in list(self._all):
            conn.abort(closing)
        self._all.clear()
        self._idle.clear()
        return []
