"""Running an ASGI app on uvicorn, the one way mlmeter does it: ``AppServer``.

``serve_forever`` serves in this thread (the CLI), ``ServerThread`` in a background
thread (``InferenceServer.start``, tests). uvloop and httptools are used where installed.
The socket is bound first (``port`` 0 picks a free port), so the URL is known before the
server starts. SIGINT and SIGTERM (in the main thread) stop the server gracefully, and
serving then returns normally: the caller's clean-up runs and the exit status is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from mlmeter.errors import UsageError

Stop = Callable[[], None]


class _QuietCut(logging.Filter):
    """Drop uvicorn's error line for a stream the app cut on purpose (``WireFault.CUT``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def uvicorn_config(
    app: Any,
    *,
    log_level: str = "warning",
    lifespan: Literal["on", "off"] = "off",
    timeout_keep_alive: int = 5,
    timeout_graceful_shutdown: int = 2,
) -> Any:
    """A uvicorn config with uvloop and httptools where installed, no access log."""
    import uvicorn

    logging.getLogger("uvicorn.error").addFilter(_QuietCut())
    return uvicorn.Config(
        app,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan=lifespan,
        access_log=False,
        log_level=log_level,
        backlog=4096,
        timeout_keep_alive=timeout_keep_alive,
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port`` 0: any free port); ``UsageError`` when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pick another --port"
        ) from None
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(config: Any) -> Any:
    """A ``uvicorn.Server`` that stops gracefully on SIGINT and SIGTERM without raising
    them again afterwards (uvicorn's own re-raises them, killing the process by SIGTERM)."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            sigs = (signal.SIGINT, signal.SIGTERM)
            old = {sig: signal.signal(sig, self.handle_exit) for sig in sigs}
            try:
                yield
            finally:
                for sig, handler in old.items():
                    signal.signal(sig, handler)

    return _Server(config)


class AppServer:
    """An ASGI app served by uvicorn on a bound socket (keyword options: ``uvicorn_config``).

    ``run`` serves in the calling thread until ``stop()`` (from any thread, even before
    ``run``), SIGINT or SIGTERM, then closes the socket.
    """

    def __init__(self, app: Any, sock: socket.socket, **options: Any) -> None:
        self.sock = sock
        self.url = base_url(sock)
        self._config = uvicorn_config(app, **options)
        self._server = _server(self._config)

    @property
    def started(self) -> bool:
        """Listening and past the app's lifespan startup."""
        return bool(self._server.started)

    def stop(self) -> None:
        """Ask the server to shut down (gracefully); any thread."""
        self._server.should_exit = True

    def run(self, on_started: Callable[[], None] | None = None) -> None:
        """Serve until stopped; ``on_started()`` runs on the loop once listening."""

        async def main() -> None:
            task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
            while not self._server.started and not task.done():
                await asyncio.sleep(0.005)
            if self._server.started and on_started is not None:
                on_started()
            await task

        try:
            with asyncio.Runner(loop_factory=self._config.get_loop_factory()) as runner:
                runner.run(main())
        except KeyboardInterrupt:  # a Ctrl-C before the server caught signals: a normal stop
            pass
        finally:
            self.sock.close()


def serve_forever(app: Any, sock: socket.socket, on_started: Callable[[Stop], None]) -> None:
    """Serve on ``sock`` in this thread until Ctrl-C, SIGTERM or ``stop()``.

    ``on_started(stop)`` runs once listening; ``stop`` may be called from any thread.
    """
    server = AppServer(app, sock)
    server.run(lambda: on_started(server.stop))


class ServerThread:
    """Runs an app in a background thread: ``with ServerThread(app) as url: ...``.

    Keyword ``options`` go to ``uvicorn_config``; entering waits until the server listens.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.server = AppServer(app, bind(host, port), **options)
        self.url = self.server.url
        self._thread = threading.Thread(target=self.server.run, name="mlmeter-server", daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("the server thread did not start")
            time.sleep(0.002)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self._thread.join(timeout=15)
        self.server.sock.close()
