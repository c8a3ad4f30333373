"""A stand-in for an MLCommons power director (``server.py``, protocol v3) on loopback.

Test helper, not a test file. It follows the protocol of the reference
(power_storage_data.md §1.2): the ``mlcommons/power client v3`` handshake, ``time``,
``new,<label>,<uuid>``, ``session,<id>,start|stop,<mode>``, ``session,<id>,done``,
``download,<id>,<file>`` with the length-prefixed transfer, and ``cleanup,<id>``. While a
mode runs it fabricates samples (a square wave between two wattages, marked
``<session>_<mode>``) at ``interval_s`` and keeps them; on stop and done it writes the
session's files into ``root/<session>/`` in the official layout and serves them from there.

Faults (``Faults``) name a step: ``handshake``, ``time``, ``new``, ``start:<mode>``,
``stop:<mode>``, ``done``, ``download:<file>``, ``cleanup``; ``step#N`` names its N-th use.
It writes everything with its own code (no mlmeter imports but the sample type), so the
tests compare the client against an independent implementation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mlmeter.power._model import PowerSample

_LABEL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass
class Faults:
    """What to break: at a step, drop the connection, answer ``Error``, or never answer."""

    drop_at: str | None = None
    error_at: str | None = None
    silent_at: str | None = None
    clock_offset_s: float = 0.0  # added to ``time`` replies and to sample stamps ...
    clock_offset_after: int = 0  # ... after this many ``time`` replies


def power_time(t_ms: int) -> str:
    """UTC ``MM-DD-YYYY HH:MM:SS.mmm`` for integer milliseconds since the epoch."""
    whole = dt.datetime.fromtimestamp(t_ms // 1000, dt.UTC)
    return whole.strftime("%m-%d-%Y %H:%M:%S") + f".{t_ms % 1000:03d}"


def spl_line(s: PowerSample) -> str:
    """An spl.txt line as PTDaemon logs it."""
    t_ms = round(s.t_utc * 1000)
    return (
        f"Time,{power_time(t_ms)},Watts,{s.watts:.6f},Volts,{s.volts:.6f},"
        f"Amps,{s.amps:.6f},PF,{s.pf:.6f},Mark,{s.mark}"
    )


@dataclass
class _Session:
    sid: str
    label: str
    client_uuid: str
    server_uuid: str
    running: str | None = None
    done: bool = False
    cleaned: bool = False
    modes: list[str] = field(default_factory=list)


class DirectorStandIn:
    """The stand-in server; ``with DirectorStandIn(tmp_path) as d: ... d.port ...``."""

    def __init__(
        self,
        root: Path,
        *,
        faults: Faults | None = None,
        interval_s: float = 0.01,
        watts: tuple[float, float] = (100.0, 150.0),
        period: int = 3,
        chunk_size: int = 1 << 20,
        files: dict[str, bytes] | None = None,
    ) -> None:
        self.root = root
        self.faults = faults or Faults()
        self.interval_s, self.watts, self.period = interval_s, watts, period
        self.chunk_size = chunk_size
        self.files = dict(files or {})
        self.received: list[bytes] = []  # every line as it came, with its terminator
        self.commands: list[str] = []
        self.samples: dict[str, list[PowerSample]] = {}
        self.served: dict[str, bytes] = {}
        self.sessions: dict[str, _Session] = {}
        self._counts: dict[str, int] = {}
        self._times = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sampler: tuple[threading.Thread, threading.Event] | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)
        self.host, self.port = "127.0.0.1", self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="director-standin")
        self._thread.start()

    def __enter__(self) -> DirectorStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and join every thread."""
        self._stop.set()
        self._thread.join(5)
        self._stop_sampler()
        self._listener.close()

    def session_dir(self, sid: str) -> Path:
        """Where the files of session ``sid`` are."""
        return self.root / sid

    # -- serving ----------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):  # OSError: the client went away
                conn.settimeout(0.02)
                self._handle(conn)

    def _lines(self, conn: socket.socket) -> list[str] | None:
        buf = b""
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not data:
                return None
            buf += data
            if b"\n" in buf:
                *lines, buf = buf.split(b"\n")
                assert buf == b"", "one command at a time"
                self.received.extend(line + b"\n" for line in lines)
                return [line.rstrip(b"\r").decode() for line in lines]
        return None

    def _handle(self, conn: socket.socket) -> None:
        first = True
        while True:
            lines = self._lines(conn)
            if lines is None:
                return
            for line in lines:
                self.commands.append(line)
                step = "handshake" if first else self._step(line)
                first = False
                if not self._answer(conn, step, line):
                    return

    def _answer(self, conn: socket.socket, step: str, line: str) -> bool:
        n = self._counts[step] = self._counts.get(step, 0) + 1
        hit = {step, f"{step}#{n}"}
        f = self.faults
        if f.drop_at in hit:
            return False
        if f.silent_at in hit:
            return True
        if f.error_at in hit:
            conn.sendall(f"Error: injected fault at {step}\r\n".encode())
            return True
        if step == "handshake":
            if line != "mlcommons/power client v3":
                return False
            conn.sendall(b"mlcommons/power server v3\r\n")
            return True
        if step.startswith("download:"):
            self._send_file(conn, line.split(",", 2))
            return True
        conn.sendall(self._reply(line.split(",")).encode() + b"\r\n")
        return True

    @staticmethod
    def _step(line: str) -> str:
        p = line.split(",")
        if p[0] == "session" and len(p) >= 3:
            return p[2] if p[2] == "done" else f"{p[2]}:{p[3] if len(p) > 3 else ''}"
        if p[0] == "download" and len(p) == 3:
            return f"download:{p[2]}"
        return p[0]

    # -- commands ---------------------------------------------------------------------------

    def _now(self) -> float:
        offset = self.faults.clock_offset_s if self._times > self.faults.clock_offset_after else 0
        return time.time() + offset

    def _reply(self, p: list[str]) -> str:
        if p == ["time"]:
            self._times += 1
            return repr(self._now())
        if p[0] == "new" and len(p) == 3:
            return self._new(p[1], p[2])
        if p[0] == "cleanup" and len(p) == 2 and p[1] in self.sessions:
            self.sessions[p[1]].cleaned = True
            return "OK"
        if p[0] == "session" and len(p) >= 3 and p[1] in self.sessions:
            return self._session_cmd(self.sessions[p[1]], p[2:])
        return f"Error: unknown command {','.join(p)!r}"

    def _new(self, label: str, client_uuid: str) -> str:
        if not _LABEL.fullmatch(label):
            return "Error: invalid label"
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d_%H-%M-%S")
        s = _Session(f"{stamp}_{label}", label, client_uuid, str(uuid.uuid4()))
        self.sessions[s.sid] = s
        self.session_dir(s.sid).mkdir(parents=True)
        return f"OK {s.sid},{s.server_uuid}"

    def _session_cmd(self, s: _Session, p: list[str]) -> str:
        if p == ["done"] and s.running is None and not s.done:
            s.done = True
            self._write_done(s)
            return "OK"
        if len(p) != 2 or p[1] not in ("ranging", "testing"):
            return "Error: bad session command"
        if p[0] == "start" and s.running is None:
            s.running = p[1]
            self._start_sampler(f"{s.sid}_{p[1]}", p[1])
            return "OK"
        if p[0] == "stop" and s.running == p[1]:
            s.running = None
            self._stop_sampler()
            s.modes.append(p[1])
            self._write_mode(s, p[1])
            return "OK"
        return f"Error: cannot {p[0]} {p[1]} now"

    def _send_file(self, conn: socket.socket, p: list[str]) -> None:
        path = self.session_dir(p[1]) / p[2]
        if p[1] not in self.sessions or not path.is_file():
            conn.sendall(f"Error: no file {p[2]!r}\r\n".encode())
            return
        data = path.read_bytes()
        self.served[p[2]] = data
        for i in range(0, len(data), self.chunk_size):
            chunk = data[i : i + self.chunk_size]
            conn.sendall(f"{len(chunk)}\r\n".encode() + chunk)
        conn.sendall(b"0\r\n")

    # -- samples and files ------------------------------------------------------------------

    def _start_sampler(self, mark: str, mode: str) -> None:
        ev = threading.Event()
        out = self.samples[mode] = []

        def run() -> None:
            i = 0
            while True:
                w = self.watts[(i // self.period) % 2]
                t = round(self._now() * 1000) / 1000
                out.append(PowerSample(t, w, 230.0, round(w / 230.0, 4), 0.95, mark))
                i += 1
                if ev.wait(self.interval_s):
                    return

        th = threading.Thread(target=run, name=f"standin-{mode}")
        self._sampler = (th, ev)
        th.start()

    def _stop_sampler(self) -> None:
        if self._sampler is not None:
            th, ev = self._sampler
            ev.set()
            th.join(5)
            self._sampler = None

    def _write(self, s: _Session, rel: str, data: bytes) -> None:
        path = self.session_dir(s.sid) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files.get(rel, data))

    def _write_mode(self, s: _Session, mode: str) -> None:
        spl = "".join(spl_line(x) + "\n" for x in self.samples[mode]).encode()
        if mode == "ranging":
            self._write(s, "ranging/spl.txt", spl)
            return
        self._write(s, "run_1/spl.txt", spl)
        avg = sum(x.watts for x in self.samples[mode]) / len(self.samples[mode])
        self._write(s, "run_1/ptd_out.txt", f"Watts,{avg:.3f}\nUncertainty,0.5%\n".encode())

    def _write_done(self, s: _Session) -> None:
        summary = {
            "session_name": s.sid,
            "client_uuid": s.client_uuid,
            "server_uuid": s.server_uuid,
        }
        self._write(s, "power/server.json", json.dumps(summary, indent=2).encode())
        log = "".join(f"server [INFO] {c}\n" for c in self.commands)
        self._write(s, "power/server.log", log.encode())
        marks = "".join(f"00:00:00.000: Go with mark '{s.sid}_{m}'\r\n" for m in s.modes)
        self._write(s, "power/ptd_logs.txt", marks.encode())
