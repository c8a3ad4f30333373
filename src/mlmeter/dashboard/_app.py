"""The dashboard's web app (starlette): read-only pages over a results ``Store``.

Routes, every one GET and none writing: ``/`` (runs, filters, A/B picks, plots),
``/systems``, ``/run/ID``, ``/logs/ID/FILE`` (a file from the run's log folder only),
``/compare?a=ID,ID&b=ID,ID``, ``/api/runs`` (JSON, the same filters as ``/``) and
``/api/runs/ID``. Bad parameters answer 400 and unknown ids 404, as HTML pages (JSON
under ``/api``). The app reads only through the ``Store`` protocol. Requests naming
another host (``Host:`` header) are refused with 400, so a web page elsewhere cannot
read the dashboard through DNS rebinding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mlmeter.dashboard._html import HEADERS, page
from mlmeter.dashboard._logs import chunks, list_logs, log_root, open_log
from mlmeter.dashboard._pages import compare_page, error_page, run_page, runs_page, systems_page
from mlmeter.dashboard._query import BadQuery, parse_filter, parse_id, parse_ids
from mlmeter.results import compare
from mlmeter.results._model import RunFilter, RunRow, Store
from mlmeter.results._postgres import redact

DEFAULT_LIMIT = 1000
TEXT = "text/plain; charset=utf-8"
LOOPBACK = ("127.0.0.1", "localhost")


def dashboard_app(store: Store, hosts: Sequence[str] = LOOPBACK) -> Starlette:
    """The dashboard over ``store`` (the caller opens and closes it; it must allow use
    from worker threads, as ``open_store``'s stores do), answering requests addressed to
    ``hosts`` only (``"*"``: any)."""
    pages = _Pages(store)
    routes = [
        Route("/", pages.runs),
        Route("/systems", pages.systems),
        Route("/run/{run_id}", pages.run),
        Route("/logs/{run_id}/{name:path}", pages.log),
        Route("/compare", pages.compare),
        Route("/api/runs", pages.api_runs),
        Route("/api/runs/{run_id}", pages.api_run),
    ]
    handlers: dict[Any, Any] = {HTTPException: pages.http_error, BadQuery: pages.bad_query}
    guard = Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    return Starlette(routes=routes, exception_handlers=handlers, middleware=[guard])


class _Pages:
    """The endpoints; each reads the store and renders."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = redact(store.url)

    def html(self, title: str, body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(page(title, body, self.db), status_code=status, headers=HEADERS)

    def runs(self, request: Request) -> Response:
        where = parse_filter(request.query_params)
        shown = where if where.limit else RunFilter(**{**asdict(where), "limit": DEFAULT_LIMIT})
        body = runs_page(self.store.runs(shown), where, self.store.runs())
        return self.html("Runs", body)

    def systems(self, request: Request) -> Response:
        rows = self.store.runs(parse_filter(request.query_params))
        return self.html("Systems", systems_page(rows))

    def row(self, request: Request) -> RunRow:
        run_id = parse_id(request.path_params["run_id"])
        row = None if run_id is None else self.store.get(run_id)
        if row is None:
            raise HTTPException(404, f"no run {request.path_params['run_id']!r} in the store")
        return row

    def run(self, request: Request) -> Response:
        row = self.row(request)
        root = log_root(row.path)
        return self.html(f"Run {row.id}", run_page(row, None if root is None else list_logs(root)))

    def log(self, request: Request) -> Response:
        row = self.row(request)
        root = log_root(row.path)
        handle = None if root is None else open_log(root, request.path_params["name"])
        if handle is None:
            raise HTTPException(
                404, f"run {row.id} has no log file {request.path_params['name']!r}"
            )
        headers = {**HEADERS, "Content-Disposition": "inline"}
        return StreamingResponse(chunks(handle), media_type=TEXT, headers=headers)

    def compare(self, request: Request) -> Response:
        unknown = sorted(set(request.query_params) - {"a", "b"})
        if unknown:
            raise BadQuery(f"unknown parameter {unknown[0]!r}: use /compare?a=ID,ID&b=ID,ID")
        sides = [self.side(request, name) for name in ("a", "b")]
        deltas = compare(sides[0], sides[1])
        return self.html("Compare A with B", compare_page(sides[0], sides[1], deltas))

    def side(self, request: Request, name: str) -> list[RunRow]:
        ids = parse_ids(request.query_params.getlist(name), name)
        if not ids:
            raise BadQuery(f"pick at least one run for {name.upper()}: /compare?a=ID,ID&b=ID,ID")
        rows = [self.store.get(i) for i in ids]
        missing = [i for i, r in zip(ids, rows, strict=True) if r is None]
        if missing:
            raise HTTPException(404, f"no run {missing[0]} in the store")
        return [r for r in rows if r is not None]

    def api_runs(self, request: Request) -> Response:
        rows = self.store.runs(parse_filter(request.query_params))
        return JSONResponse([asdict(r) for r in rows], headers=HEADERS)

    def api_run(self, request: Request) -> Response:
        return JSONResponse(asdict(self.row(request)), headers=HEADERS)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return self.error(request, exc.status_code, str(exc.detail))

    async def bad_query(self, request: Request, exc: Exception) -> Response:
        return self.error(request, 400, str(exc))

    def error(self, request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=status, headers=HEADERS)
        title = {400: "Bad request", 404: "Not found", 405: "Method not allowed"}.get(
            status, "Error"
        )
        return self.html(title, error_page(message), status)
