"""``HttpSUT``: the LoadGen side of the network division.

Each query's samples travel as their preprocessed inputs (read from the QSL here, so the
data crosses the network) to one of several ``mlmeter serve`` endpoints, the one with
the fewest outstanding requests. Requests go over persistent HTTP/1.1 connections from
one asyncio loop in a thread (uvloop when installed), parsed by httptools: about 30 us
of client CPU a request on loopback, half of aiohttp's or less (docs/network.md).

A sample that fails (connection refused, timeout, HTTP 5xx, malformed response) is
reported to the loadgen with ``sample_error(reason)``, which makes the run INVALID with
the count per reason, and completed empty, so the run never hangs; ``failures`` keeps
each failed sample with its endpoint, reason and detail.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.loadgen import QuerySample, QuerySampleResponse, complete, sample_error
from mlmeter.suts._http_pool import Endpoint, split_url
from mlmeter.suts._wire import WireError, decode_outputs, encode_inputs

InputFn = Callable[[int], Any]
BALANCE = ("least-outstanding", "round-robin")


@dataclass(frozen=True)
class SampleFailure:
    """A sample the network SUT could not answer, and why."""

    index: int  # QSL index
    endpoint: str
    reason: str  # "connection refused", "timeout", "HTTP 500", "malformed response", ...
    detail: str


class _Failed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


class HttpSUT:
    """Send the loadgen's samples to ``mlmeter serve`` endpoints over HTTP.

    ``inputs(index)`` gives a loaded sample's preprocessed input (the QSL's ``input``).
    The constructor waits up to ``ready_timeout_s`` for every endpoint's ``GET /ready``
    and reads its ``GET /v1/info`` (``infos``); one ``UsageError`` line names an
    endpoint that is unreachable. Samples of a query go in requests of up to
    ``batch_size`` (0: the smallest batch size the servers report).
    """

    def __init__(
        self,
        urls: Sequence[str],
        inputs: InputFn,
        *,
        name: str = "Network SUT",
        batch_size: int = 0,
        timeout_s: float = 60.0,
        connections: int = 64,
        balance: str = "least-outstanding",
        ready_timeout_s: float = 60.0,
    ) -> None:
        if not urls or timeout_s <= 0 or connections < 1 or balance not in BALANCE:
            raise ValueError(f"need URLs, timeout_s > 0, connections >= 1, balance in {BALANCE}")
        self.infos = [probe(u, ready_timeout_s=ready_timeout_s) for u in urls]
        self._endpoints = [Endpoint(u, connections, timeout_s) for u in urls]
        self._inputs, self._name, self._timeout_s, self._balance = inputs, name, timeout_s, balance
        self._batch = batch_size or min(int(i.get("batch_size", 1)) for i in self.infos)
        self._next = 0
        self.failures: list[SampleFailure] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweep_s = min(max(timeout_s / 20, 0.01), 0.5)  # timeouts fire this late at most
        self._sweeper: asyncio.TimerHandle | None = None
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="http-sut", daemon=True)
        self._thread.start()
        self._loop.call_soon_threadsafe(self._sweep)

    @property
    def name(self) -> str:
        """The SUT name for the logs."""
        return self._name

    @property
    def endpoints(self) -> list[str]:
        """The base URLs, in order."""
        return [e.url for e in self._endpoints]

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        """Hand the samples to the network thread; returns at once."""
        self._loop.call_soon_threadsafe(self._dispatch, samples)

    def flush_queries(self) -> None:
        """Nothing is held back: every sample is sent as soon as it is issued."""

    def report(self) -> dict[str, Any]:
        """Requests, samples and failures per endpoint, failures per reason, and the
        failed samples (the first 1000), for ``network.json``."""
        eps = [
            {"url": e.url, "requests": e.requests, "samples": e.samples, "failed": e.failed}
            for e in self._endpoints
        ]
        reasons = Counter(f.reason for f in self.failures).most_common()
        failed = [f.__dict__ for f in self.failures[:1000]]
        return {"endpoints": eps, "failures": dict(reasons), "failed_samples": failed}

    def close(self) -> None:
        """Close the connections and stop the network thread."""
        if self._loop.is_closed():
            return
        done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        done.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    # -- the network thread -------------------------------------------------------------

    def _dispatch(self, samples: Sequence[QuerySample]) -> None:
        step = self._batch
        for lo in range(0, len(samples), step):
            task = self._loop.create_task(self._send(samples[lo : lo + step]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _pick(self) -> Endpoint:
        eps = self._endpoints
        if len(eps) == 1:
            return eps[0]
        self._next = k = (self._next + 1) % len(eps)
        if self._balance == "round-robin":
            return eps[k]
        best = eps[k]
        for i in range(1, len(eps)):
            ep = eps[(k + i) % len(eps)]
            if ep.outstanding < best.outstanding:
                best = ep
        return best

    async def _send(self, chunk: Sequence[QuerySample]) -> None:
        ep = self._pick()
        ep.outstanding += 1
        ep.requests += 1
        ep.samples += len(chunk)
        try:
            outputs = await self._request(ep, chunk)
        except _Failed as f:
            outputs = self._failed(ep, chunk, f.reason, f.detail)
        except Exception as exc:  # a bug here must not hang the run
            outputs = self._failed(ep, chunk, "client error", f"{type(exc).__name__}: {exc}")
        finally:
            ep.outstanding -= 1
        complete([QuerySampleResponse(s.id, out) for s, out in zip(chunk, outputs, strict=True)])

    async def _request(self, ep: Endpoint, chunk: Sequence[QuerySample]) -> list[bytes]:
        def encode() -> bytes:
            try:
                return encode_inputs([self._inputs(s.index) for s in chunk])
            except Exception as exc:  # not an array, or not loaded
                raise _Failed("bad input", f"{type(exc).__name__}: {exc}") from None

        try:
            status, body = await ep.exchange(encode)
        except TimeoutError:
            raise _Failed("timeout", f"no answer within {self._timeout_s:g} s") from None
        except ConnectionRefusedError as exc:
            raise _Failed("connection refused", str(exc)) from None
        except ConnectionResetError as exc:
            raise _Failed("connection lost", str(exc)) from None
        except WireError as exc:
            raise _Failed("malformed response", str(exc)) from None
        except OSError as exc:
            raise _Failed("connection error", str(exc)) from None
        if status != 200:
            raise _Failed(f"HTTP {status}", body[:200].decode("utf-8", "replace").strip())
        try:
            return decode_outputs(body, len(chunk))
        except WireError as exc:
            raise _Failed("malformed response", str(exc)) from None

    def _failed(
        self, ep: Endpoint, chunk: Sequence[QuerySample], reason: str, detail: str
    ) -> list[bytes]:
        ep.failed += len(chunk)
        for s in chunk:  # before ``complete``: the run is still active
            sample_error(reason)
            self.failures.append(SampleFailure(s.index, ep.url, reason, detail))
        return [b""] * len(chunk)

    def _sweep(self) -> None:
        now = self._loop.time()
        for ep in self._endpoints:
            ep.sweep(now)
        self._sweeper = self._loop.call_at(now + self._sweep_s, self._sweep)

    async def _shutdown(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for ep in self._endpoints:
            ep.close()
        await asyncio.sleep(0)  # let the transports finish closing


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- the startup check ------------------------------------------------------------------


def probe(url: str, *, timeout_s: float = 2.0, ready_timeout_s: float = 60.0) -> dict[str, Any]:
    """Wait until ``url`` answers ``GET /ready`` with 200; return its ``GET /v1/info``.

    One ``UsageError`` line names the URL if it is unreachable, not ready within
    ``ready_timeout_s`` (503 while the model loads) or not an ``mlmeter serve`` server.
    """
    deadline = time.monotonic() + ready_timeout_s
    while (got := _get(url, "/ready", timeout_s))[0] == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    status, body = got
    if status != 200:
        why = body[:200].decode("utf-8", "replace").strip()
        raise UsageError(f"network SUT {url} is not ready (GET /ready: HTTP {status} {why})")
    status, body = _get(url, "/v1/info", timeout_s)
    try:
        info = json.loads(body) if status == 200 else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or "format" not in info:
        raise UsageError(f"network SUT {url} is not an `mlmeter serve` server (GET /v1/info)")
    return info


def _get(url: str, path: str, timeout_s: float) -> tuple[int, bytes]:
    host, port, prefix, _ = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", prefix + path)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as exc:
        why = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc)
        if isinstance(exc, TimeoutError):
            why = f"no answer within {timeout_s:g} s"
        raise UsageError(
            f"network SUT {url} is not reachable ({why}): start `mlmeter serve WORKLOAD "
            "--port PORT` there, or fix the URL"
        ) from None
    finally:
        conn.close()
