"""``InferenceServer``: a workload's model runners behind HTTP (starlette on uvicorn).

Routes: ``POST /v1/infer`` (a batch of preprocessed inputs in, the SUT's response
bytes out, both in mlmeter's batch wire format), ``GET /health`` (200 while the process is
up), ``GET /ready`` (200 once the model is loaded, else 503) and ``GET /v1/info``
(workload, model, backend, batch size, counters). Samples of the requests that arrive
within ``max_wait_ms`` are batched, up to ``batch_size``, one worker thread per runner
(model instance). The server knows nothing of models: ``load`` returns the runners.
The wire format is in ``mlmeter.suts._wire`` (docs/network.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlmeter.suts._batching import Runner
from mlmeter.suts._request_batcher import Batcher
from mlmeter.suts._uvicorn import AppServer, ServerThread, bind
from mlmeter.suts._wire import (
    CONTENT_TYPE,
    WIRE_VERSION,
    WireError,
    decode_inputs,
    encode_outputs,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

Loader = Callable[[], tuple[Sequence[Runner], Mapping[str, Any]]]
# the lifespan starts loading the model; clients keep connections for 75 s
_UVICORN: Mapping[str, Any] = {
    "lifespan": "on",
    "timeout_keep_alive": 75,
    "timeout_graceful_shutdown": 5,
}


class InferenceServer:
    """The HTTP front of a model: ``load()`` runs after the socket listens (``/ready``
    answers 503 until it returns). ``fail_every=N`` answers every Nth inference request
    with HTTP 500, to test clients."""

    def __init__(
        self,
        load: Loader,
        *,
        batch_size: int = 1,
        max_wait_ms: float = 0.0,
        info: Mapping[str, Any] | None = None,
        fail_every: int = 0,
    ) -> None:
        if batch_size < 1 or max_wait_ms < 0 or fail_every < 0:
            raise ValueError("need batch_size >= 1, max_wait_ms >= 0, fail_every >= 0")
        self._load = load
        self._batch_size, self._max_wait_ms, self._fail_every = batch_size, max_wait_ms, fail_every
        self._info: dict[str, Any] = {"batch_size": batch_size, "max_wait_ms": max_wait_ms}
        self._info.update(info or {})
        self._batcher: Batcher | None = None
        self._server: AppServer | None = None  # while serving
        self._thread: ServerThread | None = None  # when started by ``start``
        self.load_error: Exception | None = None
        self.counters = {"requests": 0, "samples": 0, "errors": 0, "injected_faults": 0}

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/info`` answers."""
        ready = self._batcher is not None
        return {"format": WIRE_VERSION, **self._info, "ready": ready, **self.counters}

    def app(self) -> Starlette:
        """The ASGI application."""
        from starlette.applications import Starlette
        from starlette.routing import Route

        routes = [
            Route("/v1/infer", self._infer, methods=["POST"]),
            Route("/health", self._health, methods=["GET"]),
            Route("/ready", self._ready, methods=["GET"]),
            Route("/v1/info", self._info_route, methods=["GET"]),
        ]
        return Starlette(routes=routes, lifespan=self._lifespan)

    # -- model ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=self._load_model, name="serve-load", daemon=True).start()
        try:
            yield
        finally:
            if self._batcher is not None:
                self._batcher.close()

    def _load_model(self) -> None:
        try:
            runners, info = self._load()
            if not runners:
                raise ValueError("the model loader returned no runners")
            self._info.update(info)
            self._info.setdefault("instances", len(runners))
            self._batcher = Batcher(runners, self._batch_size, self._max_wait_ms)
        except Exception as exc:  # reported by serve() after shutdown, and by /ready
            self.load_error = exc
            if self._server is not None:
                self._server.stop()

    # -- routes -----------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse({"status": "ok"})

    async def _ready(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        if self._batcher is None:
            return JSONResponse({"ready": False, "error": str(self.load_error or "")}, 503)
        return JSONResponse({"ready": True})

    async def _info_route(self, request: Request) -> Response:
        from starlette.responses import JSONResponse

        return JSONResponse(self.info())

    async def _infer(self, request: Request) -> Response:
        from starlette.responses import PlainTextResponse, Response

        batcher, c = self._batcher, self.counters
        if batcher is None:
            return PlainTextResponse("the model is not loaded yet (GET /ready)", 503)
        c["requests"] += 1
        if self._fail_every and c["requests"] % self._fail_every == 0:
            c["injected_faults"] += 1
            return PlainTextResponse("injected fault (fail_every)", 500)
        try:
            inputs = decode_inputs(await request.body())
        except WireError as exc:
            c["errors"] += 1
            return PlainTextResponse(str(exc), 400)
        c["samples"] += len(inputs)
        try:
            outputs = await batcher.submit(inputs, asyncio.get_running_loop()).fut if inputs else []
        except Exception as exc:
            c["errors"] += 1
            return PlainTextResponse(f"the model raised {type(exc).__name__}: {exc}", 500)
        return Response(encode_outputs(outputs), media_type=CONTENT_TYPE)

    # -- running ----------------------------------------------------------------------

    def serve(self, host: str, port: int, announce: Callable[[str], None]) -> None:
        """Serve in this thread until SIGINT or SIGTERM; ``announce(url)`` once listening.

        Raises the model's load error, if loading failed (the server stops then)."""
        self._server = AppServer(self.app(), bind(host, port), **_UVICORN)
        announce(self._server.url)
        self._server.run()
        if self.load_error is not None:
            raise self.load_error

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread; returns the base URL (see ``stop``)."""
        self._thread = ServerThread(self.app(), host, port, **_UVICORN)
        self._server = self._thread.server
        return self._thread.__enter__()

    def stop(self) -> None:
        """Stop a server started with ``start`` (waits for it)."""
        if self._thread is not None:
            self._thread.__exit__()
            self._thread = None
        elif self._server is not None:
            self._server.stop()

    def __enter__(self) -> InferenceServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
