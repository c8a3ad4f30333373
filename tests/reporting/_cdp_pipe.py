"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (stdlib only).

Chromium reads commands on its fd 3 and writes replies and events on its fd 4, as
NUL-terminated JSON: no port, no HTTP, no websocket. ``open_page`` loads one URL in
headless Chromium and returns what the page did: uncaught exceptions, console errors,
log errors, every network request, the value of a JavaScript expression and a PNG.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--mute-audio",
    "--remote-debugging-pipe",
)
# moves our pipe ends (fds >= 10) onto Chromium's fds 3 and 4, then becomes Chromium
_TRAMPOLINE = (
    "import os, sys; a, b = int(sys.argv[1]), int(sys.argv[2]); "
    "os.dup2(a, 3); os.dup2(b, 4); os.close(a); os.close(b); os.execv(sys.argv[3], sys.argv[3:])"
)


@dataclass
class PageRun:
    """What happened while the page loaded."""

    errors: list[str] = field(default_factory=list)  # exceptions, console and log errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    value: Any = None  # the result of the expression
    png: bytes = b""


class _Pipe:
    def __init__(self, exe: str, user_data_dir: Path, deadline: float) -> None:
        to_chrome, self._w = _high_pipe()
        self._r, from_chrome = _high_pipe()
        args = [exe, *FLAGS, f"--user-data-dir={user_data_dir}", "--window-size=1400,1000"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(to_chrome), str(from_chrome), *args],
            pass_fds=(to_chrome, from_chrome),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self.deadline = deadline
        self.events: list[dict[str, Any]] = []
        self._buf = b""
        self._id = 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command; return its result (events that arrive meanwhile are kept)."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str) -> dict[str, Any]:
        """Wait for an event ``method`` (or return one that already arrived)."""
        while not any(e["method"] == method for e in self.events):
            self.events.append(self._next())
        return next(e for e in self.events if e["method"] == method)

    def _next(self) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited (code {self.proc.poll()})")
            self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.call("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # the process we started, by its handle
            self.proc.wait(timeout=10)
        os.close(self._w)
        os.close(self._r)


def _high_pipe() -> tuple[int, int]:
    """A pipe whose two fds are >= 10 and close on exec (``pass_fds`` reopens them)."""
    r, w = os.pipe()
    high = (fcntl.fcntl(r, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(w, fcntl.F_DUPFD_CLOEXEC, 10))
    os.close(r)
    os.close(w)
    return high


def open_page(
    exe: str, url: str, user_data_dir: Path, expression: str, timeout_s: float = 90.0
) -> PageRun:
    """Load ``url`` in headless Chromium; report errors, requests, ``expression`` and a PNG."""
    pipe = _Pipe(exe, user_data_dir, time.monotonic() + timeout_s)
    try:
        target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
        session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            pipe.call(f"{domain}.enable", session)
        pipe.call("Page.navigate", session, url=url)
        pipe.wait_event("Page.loadEventFired")
        value = pipe.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        size = pipe.call("Page.getLayoutMetrics", session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = pipe.call(
            "Page.captureScreenshot", session, format="png", clip=clip, captureBeyondViewport=True
        )
        run = PageRun(
            value=value.get("result", {}).get("value"), png=base64.b64decode(shot["data"])
        )
        for event in pipe.events:
            _record(run, event)
        return run
    finally:
        pipe.close()


def _record(run: PageRun, event: dict[str, Any]) -> None:
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        run.errors.append(details.get("exception", {}).get("description") or details["text"])
    elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        run.errors.append(
            " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
        )
    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
        run.errors.append(params["entry"]["text"])
    elif method == "Network.requestWillBeSent":
        run.requests.append(params["request"]["url"])
