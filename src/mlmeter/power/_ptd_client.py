"""PTDaemon's TCP line protocol, client side: one command, one checked reply, bounded in time.

Every command has a deadline (``timeout_s``). A reply that is not the expected string, a
closed connection or silence raise :class:`PowerError` naming the command, and the client
is then unusable (its socket is closed), so nothing waits on a broken analyzer. Every
command/reply pair is kept with its wall-clock times (``messages``), as the official
director's ``server.json`` keeps ``ptd_messages``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from mlmeter.power._model import PowerError, PowerSample

HELLO_REPLY = "Hello, PTDaemon here!"
SR_REPLY = "Range {channel} changed"
GO_REPLY = "Starting untimed measurement, maximum 500000 samples at {ms}ms with 0 rampup samples"
STOP_REPLY = "Stopping untimed measurement"
NO_MEASUREMENT_REPLY = "Error: no measurement to stop"
RL_SINGLE_CHANNEL_REPLY = "Invalid number of parameters"


@dataclass(frozen=True)
class PtdMessage:
    """One command and its reply, with wall-clock send and receive times."""

    cmd: str
    reply: str
    sent: float
    received: float

    def to_json(self) -> dict[str, Any]:
        """``{"cmd", "reply", "sent", "received"}``, as in ``ptd_messages``."""
        return asdict(self)


class PtdClient:
    """A connection to PTDaemon at ``host:port``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout_s: float = 10.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._wall = wall
        self._sock: socket.socket | None = None
        self._buf = b""
        self.messages: list[PtdMessage] = []

    @property
    def address(self) -> str:
        """``HOST:PORT``."""
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        """Whether the connection is open and has not failed."""
        return self._sock is not None

    def connect(self) -> None:
        """Open the connection (no-op when open); PowerError when unreachable."""
        if self._sock is not None:
            return
        try:
            self._sock = socket.create_connection((self.host, self.port), self.timeout_s)
        except OSError as exc:
            raise PowerError(
                f"cannot reach PTDaemon at {self.address} ({exc.strerror or exc}); "
                "start PTDaemon or fix the address in --power ptd://HOST:PORT"
            ) from None
        self._buf = b""

    def command(self, cmd: str, expect: str | None = None) -> str:
        """Send ``cmd`` and return its reply line; PowerError unless it equals ``expect``."""
        reply = self._ask(cmd)
        if expect is not None and reply != expect:
            self._fail(f"answered {cmd!r} with {reply!r}, expected {expect!r}")
        return reply

    def command_prefixed(self, cmd: str, prefix: str) -> str:
        """Send ``cmd``; PowerError unless the reply starts with ``prefix``."""
        reply = self._ask(cmd)
        if not reply.startswith(prefix):
            self._fail(f"answered {cmd!r} with {reply!r}, expected '{prefix}...'")
        return reply

    def read_samples(self) -> list[str]:
        """The unread sample lines: ``RL,*,*``, falling back to ``RL`` on a single channel."""
        cmd = "RL,*,*"
        reply = self._ask(cmd)
        if reply == RL_SINGLE_CHANNEL_REPLY:
            cmd = "RL"
            reply = self._ask(cmd)
        count = _sample_count(reply)
        if count is None:
            self._fail(f"answered {cmd!r} with {reply!r}, expected 'Last N samples'")
        deadline = time.monotonic() + self.timeout_s
        return [self._line(cmd, deadline) for _ in range(count or 0)]

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _ask(self, cmd: str) -> str:
        if self._sock is None:
            raise PowerError(f"PTDaemon at {self.address} is not connected (while sending {cmd!r})")
        sent = self._wall()
        try:
            self._sock.settimeout(self.timeout_s)
            self._sock.sendall((cmd + "\r\n").encode("utf-8"))
        except OSError as exc:
            self._fail(f"lost the connection while sending {cmd!r} ({exc})")
        reply = self._line(cmd, time.monotonic() + self.timeout_s)
        self.messages.append(PtdMessage(cmd, reply, sent, self._wall()))
        return reply

    def _line(self, cmd: str, deadline: float) -> str:
        while b"\n" not in self._buf:
            self._buf += self._recv(cmd, deadline)
        raw, self._buf = self._buf.split(b"\n", 1)
        return raw.decode("utf-8", "replace").rstrip("\r")

    def _recv(self, cmd: str, deadline: float) -> bytes:
        assert self._sock is not None
        left = deadline - time.monotonic()
        if left <= 0:
            self._silent(cmd)
        try:
            self._sock.settimeout(left)
            data = self._sock.recv(65536)
        except TimeoutError:
            self._silent(cmd)
        except OSError as exc:
            self._fail(f"lost the connection during {cmd!r} ({exc})")
        if not data:
            self._fail(f"closed the connection during {cmd!r}; check PTDaemon and run again")
        return data

    def _silent(self, cmd: str) -> NoReturn:
        self._fail(
            f"did not answer {cmd!r} within {self.timeout_s:g} s; "
            "check that PTDaemon is running and the analyzer is connected"
        )

    def _fail(self, detail: str) -> NoReturn:
        self.close()
        raise PowerError(f"PTDaemon at {self.address} {detail}")


def _sample_count(reply: str) -> int | None:
    parts = reply.split(" ")
    if len(parts) == 3 and parts[0] == "Last" and parts[2] == "samples" and parts[1].isdigit():
        return int(parts[1])
    return None


@dataclass(frozen=True)
class ClockOffset:
    """PTDaemon's clock minus this machine's, known to lie in [low_s, high_s]."""

    low_s: float
    high_s: float

    @property
    def estimate_s(self) -> float:
        """The middle of the interval."""
        return (self.low_s + self.high_s) / 2


def clock_offset(
    samples: Sequence[PowerSample], go: PtdMessage, stop: PtdMessage, interval_s: float
) -> ClockOffset | None:
    """Bound the offset: the first sample is taken within one interval after ``Go``
    arrives, the last within one interval before ``Stop``; None without samples."""
    if not samples:
        return None
    first, last = samples[0].t_utc, samples[-1].t_utc
    low = max(first - go.received - interval_s, last - stop.received)
    high = min(first - go.sent, last - stop.sent + interval_s)
    return ClockOffset(min(low, high), max(low, high))
