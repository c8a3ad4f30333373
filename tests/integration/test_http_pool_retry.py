"""The connection pool's stale-connection retry, against real servers on loopback.

The rule (``Endpoint.exchange``, ``StreamEndpoint.submit``): a request written on a
*reused* keep-alive connection that the server closed before a byte of the answer arrived
(the server's idle timeout crossed the request on the wire) is sent once more on a fresh
connection, on the same deadline, and the caller never sees the first attempt. A request
that fails on a *fresh* connection is not retried: the caller gets the failure. In
streaming mode, a connection cut after the answer began is not retried either.

The idle close is uvicorn's own keep-alive timeout (1 s): the client's loop is blocked
past it, so the server's FIN is waiting, unread, when the next request is written. The
failures use a tiny asyncio server that closes connections as each test scripts it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from mlmeter.suts._calibrate import next_request
from mlmeter.suts._http_pool import Endpoint
from mlmeter.suts._http_stream import StreamEndpoint
from mlmeter.suts._uvicorn import ServerThread

KEEP_ALIVE_S = 1  # uvicorn's timeout_keep_alive (whole seconds)
Mode = str  # "exchange" (await the whole answer) or "stream" (``submit`` to a sink)


def _run(main: Coroutine[Any, Any, Any]) -> Any:
    """Run a client coroutine, never for more than 10 s."""

    async def bounded() -> Any:
        return await asyncio.wait_for(main, 10)

    return asyncio.run(bounded())


class _Sink:
    """A ``BodySink`` that keeps what it is told; ``ended`` resolves at ``end``."""

    def __init__(self) -> None:
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.begun, self.status, self.data = 0, 0, b""
        self.error: Exception | None = None

    def begin(self) -> None:
        self.begun += 1

    def head(self, status: int) -> None:
        self.status = status

    def body(self, data: bytes) -> None:
        self.data += data

    def end(self, status: int, error: Exception | None) -> None:
        assert not self.ended.done(), "end was called twice"
        self.status, self.error = status, error
        self.ended.set_result(None)


async def _post(ep: Endpoint, mode: Mode, payload: bytes) -> tuple[int, bytes]:
    """POST ``payload`` in ``mode``; (status, body), or the request's error raised."""
    if mode == "exchange":
        return await ep.exchange(lambda: payload)
    assert isinstance(ep, StreamEndpoint)
    sink = _Sink()
    ep.submit(payload, sink)
    await sink.ended
    assert sink.begun == 1  # a retry is not a new dispatch
    if sink.error is not None:
        raise sink.error
    return sink.status, sink.data


def _endpoint(url: str, mode: Mode) -> Endpoint:
    kind = StreamEndpoint if mode == "stream" else Endpoint
    return kind(url, 1, 5.0, path="/echo", content_type="text/plain")


async def _close(ep: Endpoint) -> None:
    await asyncio.gather(*ep.close(), return_exceptions=True)


# -- the idle connection uvicorn closed: retried once, on a fresh connection ---------


def _port_app(seen: list[bytes]) -> Callable[..., Coroutine[Any, Any, None]]:
    """An ASGI app that answers each request with the client's port (its connection)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(body)
        port = str(scope["client"][1]).encode()
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(port))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": port})

    return app


@pytest.mark.parametrize("mode", ["exchange", "stream"])
def test_idle_connection_the_server_closed_is_retried_on_a_fresh_one(mode: Mode) -> None:
    seen: list[bytes] = []

    async def main(url: str) -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        ep = _endpoint(url, mode)
        try:
            first = await _post(ep, mode, b"one")
            time.sleep(KEEP_ALIVE_S + 0.3)  # the loop is blocked: the server's FIN waits unread
            return first, await _post(ep, mode, b"two")
        finally:
            await _close(ep)

    with ServerThread(_port_app(seen), timeout_keep_alive=KEEP_ALIVE_S) as url:
        first, second = _run(main(url))
    assert first[0] == second[0] == 200
    assert first[1] != second[1]  # answered on another connection (client port)
    assert seen == [b"one", b"two"]  # the stale attempt never reached the app


# -- failures the pool must report, not retry ---------------------------------------

Script = Callable[[int, int], str]  # (connection no., request no. on it) -> what to do


class _Scripted(asyncio.Protocol):
    """HTTP/1.1 keep-alive; each request is answered ("ok"), or the connection is closed
    without an answer ("close") or after half of one ("partial"), as ``script`` says."""

    def __init__(self, script: Script, log: list[tuple[int, int]], conn_no: int) -> None:
        self._script, self._log, self._conn_no = script, log, conn_no
        self._buf, self._requests = b"", 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (rest := next_request(self._buf)) is not None:
            self._buf = rest
            self._answer()

    def _answer(self) -> None:
        self._log.append((self._conn_no, self._requests))
        action = self._script(self._conn_no, self._requests)
        self._requests += 1
        if action == "ok":
            self._transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        elif action == "partial":
            self._transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\npart")
            self._transport.close()
        else:
            self._transport.close()


async def _scripted_posts(mode: Mode, script: Script, n: int) -> tuple[list[Any], list[Any]]:
    """``n`` requests one after the other; (their results or errors, the server's log)."""
    log: list[tuple[int, int]] = []
    conns: list[_Scripted] = []

    def factory() -> _Scripted:
        conns.append(_Scripted(script, log, len(conns)))
        return conns[-1]

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    ep = _endpoint(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", mode)
    results: list[Any] = []
    try:
        for i in range(n):
            try:
                results.append(await _post(ep, mode, b"%d" % i))
            except OSError as exc:
                results.append(exc)
    finally:
        await _close(ep)
        server.close()
        await server.wait_closed()
    return results, log


@pytest.mark.parametrize("mode", ["exchange", "stream"])
def test_a_failure_on_a_fresh_connection_is_not_retried(mode: Mode) -> None:
    results, log = _run(_scripted_posts(mode, lambda conn, req: "close", 1))
    assert [type(r) for r in results] == [ConnectionResetError]
    assert log == [(0, 0)]  # one connection, one request: no second attempt


@pytest.mark.parametrize("mode", ["exchange", "stream"])
def test_the_retry_is_not_retried_again(mode: Mode) -> None:
    def script(conn: int, req: int) -> str:  # only the first connection's first request
        return "ok" if (conn, req) == (0, 0) else "close"

    results, log = _run(_scripted_posts(mode, script, 2))
    assert results[0] == (200, b"ok")
    assert type(results[1]) is ConnectionResetError
    assert log == [(0, 0), (0, 1), (1, 0)]  # stale on the reused one, once anew, no more


def test_a_stream_cut_after_its_answer_began_is_not_retried() -> None:
    def script(conn: int, req: int) -> str:
        return "ok" if req == 0 else "partial"

    results, log = _run(_scripted_posts("stream", script, 2))
    assert results[0] == (200, b"ok")
    assert type(results[1]) is ConnectionResetError
    assert log == [(0, 0), (0, 1)]  # the reused connection had started answering: no retry
