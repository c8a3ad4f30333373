"""The wire of the MLCommons power client protocol v3, and the client's own record of a session.

``Channel`` speaks the line protocol of ``mlcommons/power-dev:ptd_client_server/lib/common.py``:
text lines sent with CRLF, received by splitting on LF and stripping CR; a file arrives as
repeated ``<decimal length>`` lines each followed by that many raw bytes, ended by a ``0``
line. Every read has a deadline and TCP keepalive is set as the official client sets it, so
a silent or vanished director ends in ``WireError``, never in a hang.

``SessionRecord`` is what ``client.json``/``client.log`` hold, in the spirit of the official
``lib/summary.py``: both UUIDs, the session name, the timezone offset, every message with its
send and receive times, and the four phase stamps per mode (wall and monotonic).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeter.logfmt import atomic_write_text

_MAX_LINE = 64 * 1024
_READ_SIZE = 64 * 1024
KEEPALIVE = (2, 2, 10)  # idle s, interval s, probes: as the official client
CLIENT_FORMAT = "mlmeter.power.director-client/1"
PHASES = ("before_start", "after_start", "after_workload", "after_stop")


class WireError(Exception):
    """The connection failed: closed, silent past the deadline, or a malformed reply."""


class Channel:
    """One TCP connection to a director; every read waits at most ``timeout_s``."""

    def __init__(self, sock: socket.socket, timeout_s: float) -> None:
        self._sock = sock
        self._timeout_s = timeout_s
        self._buf = b""

    @classmethod
    def connect(cls, host: str, port: int, connect_timeout_s: float, timeout_s: float) -> Channel:
        """Open the connection (bounded by ``connect_timeout_s``) with keepalive on."""
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        except OSError as exc:
            raise WireError(f"cannot connect: {exc.strerror or exc}") from None
        _keepalive(sock)
        return cls(sock, timeout_s)

    @property
    def sock(self) -> socket.socket:
        """The socket (for its options)."""
        return self._sock

    def send_line(self, text: str) -> None:
        """Send one line, CRLF-terminated."""
        try:
            self._sock.settimeout(self._timeout_s)
            self._sock.sendall(text.encode() + b"\r\n")
        except OSError as exc:
            raise WireError(f"cannot send: {exc.strerror or exc}") from None

    def recv_line(self) -> str:
        """The next line, split on LF with CR stripped, within the deadline."""
        deadline = time.monotonic() + self._timeout_s
        while b"\n" not in self._buf:
            if len(self._buf) > _MAX_LINE:
                raise WireError(f"a reply line longer than {_MAX_LINE} bytes")
            self._buf += self._recv(deadline, _READ_SIZE)
        line, _, self._buf = self._buf.partition(b"\n")
        return line.rstrip(b"\r").decode(errors="replace")

    def recv_file(self) -> bytes:
        """A length-prefixed file transfer: ``<n>`` line + n bytes, repeated, then ``0``."""
        chunks: list[bytes] = []
        while True:
            line = self.recv_line()
            if line.startswith("Error"):
                raise WireError(f"the director answered {line!r}")
            if not line.isdigit():
                raise WireError(f"expected a chunk length, got {line[:80]!r}")
            n = int(line)
            if n == 0:
                return b"".join(chunks)
            chunks.append(self._recv_exact(n))

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._sock.close()

    def _recv_exact(self, n: int) -> bytes:
        deadline = time.monotonic() + self._timeout_s
        while len(self._buf) < n:
            self._buf += self._recv(deadline, max(n - len(self._buf), _READ_SIZE))
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _recv(self, deadline: float, size: int) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WireError(f"no reply within {self._timeout_s:g} s")
        try:
            self._sock.settimeout(left)
            data = self._sock.recv(size)
        except TimeoutError:
            raise WireError(f"no reply within {self._timeout_s:g} s") from None
        except OSError as exc:
            raise WireError(f"the connection failed: {exc.strerror or exc}") from None
        if not data:
            raise WireError("the director closed the connection")
        return data


def _keepalive(sock: socket.socket) -> None:
    """SO_KEEPALIVE with the official timings where the platform has the options."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in zip(
        ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"), KEEPALIVE, strict=True
    ):
        opt = getattr(socket, name, None)
        if opt is not None:
            sock.setsockopt(socket.IPPROTO_TCP, opt, value)


def _iso(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class SessionRecord:
    """The client's record of one session: written as ``power/client.json`` and ``client.log``."""

    host: str
    port: int
    label: str
    client_uuid: str
    session_id: str = ""
    server_uuid: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    clock_checks: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def note(self, text: str, level: str = "INFO") -> None:
        """Add a line to ``client.log``."""
        self.log.append(f"{_iso(time.time())} [{level}] {text}")

    def message(self, cmd: str, reply: str | None, sent: float, received: float | None) -> None:
        """Record one command and its reply (``None`` when none came)."""
        self.messages.append(
            {"cmd": cmd, "reply": reply, "sent_time": sent, "reply_time": received}
        )

    def phase(self, mode: str, name: str) -> None:
        """Stamp one of the four phases of ``mode`` (wall and monotonic seconds)."""
        self.phases.setdefault(mode, {})[name] = [time.time(), time.monotonic()]
        self.note(f"phase {mode}: {name}")

    def file(self, rel: str, data: bytes) -> None:
        """Record a downloaded file's size and SHA-256."""
        self.files[rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def to_json(self) -> dict[str, Any]:
        """The ``client.json`` document."""
        return {
            "format": CLIENT_FORMAT,
            "server": f"{self.host}:{self.port}",
            "label": self.label,
            "client_uuid": self.client_uuid,
            "server_uuid": self.server_uuid,
            "session_name": self.session_id,
            "timezone_offset_s": time.localtime().tm_gmtoff,
            "phases": {m: {p: v[p] for p in PHASES if p in v} for m, v in self.phases.items()},
            "clock_checks": self.clock_checks,
            "messages": self.messages,
            "results": self.files,
        }

    def write(self, folder: Path) -> None:
        """Write ``client.json`` and ``client.log`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "client.json", json.dumps(self.to_json(), indent=2) + "\n")
        atomic_write_text(folder / "client.log", "".join(line + "\n" for line in self.log))
