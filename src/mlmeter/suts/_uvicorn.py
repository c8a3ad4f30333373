"""Running an ASGI app on uvicorn: from the CLI (``serve_forever``) or a test (``ServerThread``).

uvloop and httptools are used where installed. The socket is bound first (``port`` 0 picks
a free port), so the URL is known before the server starts.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from mlmeter.errors import UsageError

Stop = Callable[[], None]


class _QuietCut(logging.Filter):
    """Drop uvicorn's error line for a stream the app cut on purpose (``WireFault.CUT``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def uvicorn_config(app: Any, *, log_level: str = "warning") -> Any:
    """A uvicorn config with uvloop and httptools where installed, no access log."""
    import uvicorn

    logging.getLogger("uvicorn.error").addFilter(_QuietCut())
    return uvicorn.Config(
        app,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="off",
        access_log=False,
        log_level=log_level,
        backlog=4096,
        timeout_graceful_shutdown=2,
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


def serve_forever(app: Any, sock: socket.socket, on_started: Callable[[Stop], None]) -> None:
    """Serve on ``sock`` in this thread until Ctrl-C, SIGTERM or ``stop()``.

    ``on_started(stop)`` runs once listening; ``stop`` may be called from any thread.
    """
    import uvicorn

    config = uvicorn_config(app)
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.005)
        if server.started:
            on_started(stop)
        await task

    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(main())
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: a normal stop
        pass
    finally:
        sock.close()


class ServerThread:
    """Runs an app on loopback in a background thread: ``with ServerThread(app) as url: ...``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self._sock = bind(host, port)
        self.url = base_url(self._sock)
        self._config = uvicorn_config(app)
        self._server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self._run, name="mlmeter-server", daemon=True)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=self._config.get_loop_factory()) as runner:
            runner.run(self._server.serve(sockets=[self._sock]))

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("the server thread did not start")
            time.sleep(0.002)
        return self.url

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
