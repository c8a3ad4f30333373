"""A fake PTDaemon: the analyzer's TCP line protocol on loopback, with injectable faults.

It answers the commands the MLCommons director sends with PTDaemon's exact reply strings
(``docs/power.md``, reference §1.3), produces samples from a power source at the ``Go``
interval (sped up by ``time_scale``), writes PTDaemon's ``-l`` sample log and its stdout
lines. One client at a time; lines end in CRLF.

Faults (``parse_fault``), each at the first ``Go`` unless ``after=N`` says to answer N
commands normally first:

* ``drop``: close the connection instead of answering;
* ``garbage``: answer with a line that is not the expected reply (once);
* ``silence``: stop answering (the connection stays open);
* ``skew:SECONDS``: stamp samples and stdout lines SECONDS off the real clock (always).

It is a test double for mlmeter's PTDaemon client, never a stand-in for PTDaemon in a
submission.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mlmeter.errors import UsageError
from mlmeter.power._ptd_analyzer import IDENTIFY_REPLY, Analyzer, PowerSource, default_source

HELLO_REPLY = "Hello, PTDaemon here!"
GARBAGE_REPLY = "\x1b[?garbled:#%&*"
_POLL_S = 0.02
_FAULTS = ("drop", "garbage", "silence", "skew")


@dataclass(frozen=True)
class Fault:
    """One injected fault; ``after`` is None for "at the first Go"."""

    kind: str
    after: int | None = None
    skew_s: float = 0.0


def parse_fault(text: str) -> Fault:
    """``drop|garbage|silence[:after=N]`` or ``skew:SECONDS``; a UsageError names the form."""
    kind, _, arg = text.partition(":")
    usage = f"bad --fault {text!r}: use drop|garbage|silence[:after=N] or skew:SECONDS"
    if kind not in _FAULTS:
        raise UsageError(usage)
    try:
        if kind == "skew":
            return Fault("skew", skew_s=float(arg))
        if not arg:
            return Fault(kind)
        key, _, value = arg.partition("=")
        if key != "after" or int(value) < 0:
            raise ValueError(arg)
        return Fault(kind, after=int(value))
    except ValueError:
        raise UsageError(usage) from None


class FakePtd:
    """The server; ``start()`` runs it on a thread, ``serve_forever`` on the caller's."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        source: PowerSource = default_source,
        log_path: str | Path | None = None,
        interval_ms: int = 1000,
        time_scale: float = 1.0,
        faults: Sequence[Fault] = (),
        clock: Callable[[], float] = time.time,
        out: TextIO | None = None,
    ) -> None:
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(_POLL_S)
        self._log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
        skew = sum(f.skew_s for f in faults if f.kind == "skew")
        self._faults = [f for f in faults if f.kind != "skew"]
        self.analyzer = Analyzer(
            source,
            clock,
            time_scale=time_scale,
            default_interval_ms=interval_ms,
            skew_s=skew,
            log=self._log,
            out=out,
        )
        self.received: list[str] = []  # every command line, in order (for tests)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._silent = False

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) it listens on."""
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> FakePtd:
        """Serve on a background thread (for tests); ``close()`` stops it."""
        self._thread = threading.Thread(target=self.serve_forever, name="fake-ptd", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Accept clients one at a time until ``shutdown()``."""
        while not self._stopping.is_set():
            self.analyzer.catch_up()
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                self._serve_client(conn)

    def shutdown(self) -> None:
        """Ask ``serve_forever`` to return (safe from a signal handler)."""
        self._stopping.set()

    def close(self) -> None:
        """Stop serving, join the thread, close the socket and the log."""
        self.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._sock.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> FakePtd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve_client(self, conn: socket.socket) -> None:
        conn.settimeout(_POLL_S)
        self._silent = False
        buf = b""
        while not self._stopping.is_set():
            self.analyzer.catch_up()
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                if not self._answer(conn, raw.decode("utf-8", "replace").rstrip("\r")):
                    return

    def _answer(self, conn: socket.socket, cmd: str) -> bool:
        """Reply to one command; False when the connection is to be dropped."""
        self.received.append(cmd)
        fault = self._due_fault(cmd)
        if self._silent:
            return True
        if fault == "drop":
            return False
        if fault == "silence":
            self._silent = True
            return True
        lines = [GARBAGE_REPLY] if fault == "garbage" else self.respond(cmd)
        try:
            conn.sendall("".join(line + "\r\n" for line in lines).encode("utf-8"))
        except OSError:
            return False
        return True

    def _due_fault(self, cmd: str) -> str | None:
        count = len(self.received) - 1  # commands answered before this one
        for fault in self._faults:
            due = cmd.startswith("Go") if fault.after is None else count >= fault.after
            if due:
                self._faults.remove(fault)
                return fault.kind
        return None

    def respond(self, cmd: str) -> list[str]:
        """The reply lines for one command (no faults)."""
        name, *args = cmd.split(",")
        a = self.analyzer
        if name == "RL":
            if args:
                return ["Invalid number of parameters"]
            lines = a.read_unread()
            return [f"Last {len(lines)} samples", *lines]
        simple: dict[str, Callable[[], str]] = {
            "Hello": lambda: HELLO_REPLY,
            "Identify": lambda: IDENTIFY_REPLY,
            "RR": a.ranges_reply,
            "Go": lambda: a.go(args),
            "Stop": a.stop,
            "Watts": a.watts_reply,
            "Uncertainty": a.uncertainty_reply,
        }
        if name == "SR" and len(args) == 2:
            return [a.set_range(args[0], args[1])]
        handler = simple.get(name)
        return [handler() if handler else "Invalid command"]


def serve_main(server: FakePtd, out: TextIO = sys.stdout) -> int:
    """Print ``fake-ptd at HOST:PORT`` and serve until ``shutdown()`` or Ctrl-C."""
    host, port = server.address
    print(f"fake-ptd at {host}:{port}", file=out, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
