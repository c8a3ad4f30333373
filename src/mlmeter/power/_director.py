"""The SUT side of the MLCommons power workflow: a client of a power director, protocol v3.

The director (MLCommons' ``server.py`` next to PTDaemon and the analyzer) measures; this
client tells it when each mode runs and fetches the official files afterwards::

    with DirectorSession(host, port, label, outdir) as s:
        s.start("ranging"); run(); s.stop("ranging")
        s.start("testing"); run(); s.stop("testing")
        s.done()  # downloads FETCH_FILES into outdir/{power,ranging,run_1}, then cleanup

The clock offset to the director's ``time`` is checked (400 ms) at the start, before each
mode and after each workload. Any ``Error`` reply, silence past the timeout or a dropped
connection raises ``PowerError`` naming the step; the client never reconnects (the director
fails the session when the client drops, as in the official workflow).
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from types import TracebackType

from mlmeter.errors import UsageError
from mlmeter.logfmt import atomic_write_bytes
from mlmeter.power._director_wire import Channel, SessionRecord, WireError
from mlmeter.power._model import PowerError

CLIENT_MAGIC = "mlcommons/power client v3"
SERVER_MAGIC = "mlcommons/power server v3"
DEFAULT_PORT = 4950
MAX_OFFSET_MS = 400.0  # lib/time_sync.py CRITICAL_DIFFERENCE_TIME_MS
MODES = ("ranging", "testing")
FETCH_FILES = (
    "power/ptd_logs.txt",
    "ranging/spl.txt",
    "power/server.json",
    "power/server.log",
    "run_1/spl.txt",
    "run_1/ptd_out.txt",
)
SPL_OF_MODE = {"ranging": "ranging/spl.txt", "testing": "run_1/spl.txt"}
_LABEL = re.compile(r"[A-Za-z0-9_-]*")


def check_label(label: str) -> str:
    """``label`` if the director accepts it (letters, digits, ``_``, ``-``); else UsageError."""
    if not _LABEL.fullmatch(label):
        raise UsageError(
            f"power director label {label!r} may hold only letters, digits, '_' and '-'"
            " (e.g. label=resnet50_offline)"
        )
    return label


class DirectorSession:
    """One session with a director: handshake and ``new`` on enter, modes, ``done``, downloads."""

    def __init__(
        self,
        host: str,
        port: int,
        label: str,
        outdir: str | Path,
        *,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        max_offset_ms: float = MAX_OFFSET_MS,
    ) -> None:
        self.host, self.port = host, port
        self.outdir = Path(outdir)
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self.max_offset_ms = max_offset_ms
        self.record = SessionRecord(host, port, check_label(label), str(uuid.uuid4()))
        self._chan: Channel | None = None
        self._mode: str | None = None
        self._fetched: set[str] = set()

    @property
    def session_id(self) -> str:
        """``YYYY-MM-DD_HH-MM-SS_<label>``, as the director named the session."""
        return self.record.session_id

    def __enter__(self) -> DirectorSession:
        opened = False
        try:
            self.open()
            opened = True
        finally:
            if not opened:
                self.close()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> None:
        """Connect, shake hands, check the clock and open a new session."""
        self.record.note(f"Connecting to the director {self.host}:{self.port}")
        try:
            self._chan = Channel.connect(
                self.host, self.port, self.connect_timeout_s, self.timeout_s
            )
        except WireError as exc:
            raise self._fail("connect", str(exc)) from None
        reply = self._ask("handshake", CLIENT_MAGIC)
        if reply != SERVER_MAGIC:
            raise self._fail("handshake", f"got {reply!r}, not {SERVER_MAGIC!r}")
        self.check_clock("at the session start")
        r = self.record
        reply = self._ask("new session", f"new,{r.label},{r.client_uuid}")
        r.session_id, sep, r.server_uuid = reply.removeprefix("OK ").partition(",")
        if not reply.startswith("OK ") or not sep or not r.session_id:
            raise self._fail("new session", f"got {reply!r}, not 'OK <session>,<uuid>'")
        r.note(f"Session id is {r.session_id!r}")

    def check_clock(self, when: str) -> float:
        """Ask the director's ``time``; PowerError if the offset exceeds the limit.

        Returns the signed offset (director minus client, ms, at the midpoint); the limit
        applies to the worst case over the round trip, as the official client does."""
        t1 = time.time()
        reply = self._ask("time", "time")
        t2 = time.time()
        try:
            server = float(reply)
        except ValueError:
            raise self._fail("time", f"got {reply!r}, not epoch seconds") from None
        offset_ms = (server - (t1 + t2) / 2) * 1000
        worst_ms = max(abs(server - t1), abs(server - t2)) * 1000
        self.record.clock_checks.append(
            {"when": when, "offset_ms": offset_ms, "worst_ms": worst_ms, "rtt_ms": (t2 - t1) * 1e3}
        )
        if worst_ms > self.max_offset_ms:
            raise PowerError(
                f"the clock offset to the power director {self.host}:{self.port} is"
                f" {worst_ms:.0f} ms {when} (limit {self.max_offset_ms:.0f} ms):"
                " sync both clocks to the same NTP server"
            )
        return offset_ms

    def start(self, mode: str) -> None:
        """Check the clock, then ``session,<id>,start,<mode>`` (the director settles, then Go)."""
        _check_mode(mode)
        if self._mode is not None:
            raise PowerError(f"power director: {self._mode} is still running; stop it first")
        self.check_clock(f"before {mode}")
        self.record.phase(mode, "before_start")
        self._ok(f"start {mode}", f"session,{self.session_id},start,{mode}")
        self.record.phase(mode, "after_start")
        self._mode = mode

    def stop(self, mode: str) -> None:
        """After the workload: check the clock, then ``session,<id>,stop,<mode>``."""
        _check_mode(mode)
        if self._mode != mode:
            raise PowerError(f"power director: {mode} is not running; start it first")
        self.record.phase(mode, "after_workload")
        self.check_clock(f"after the {mode} workload")
        self._ok(f"stop {mode}", f"session,{self.session_id},stop,{mode}")
        self.record.phase(mode, "after_stop")
        self._mode = None

    def download(self, rel: str) -> Path:
        """``download,<id>,<rel>``: save the file as ``outdir/rel`` and return its path."""
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"download path must be relative and inside the session: {rel!r}")
        step = f"download {rel}"
        chan = self._channel(step)
        cmd = f"download,{self.session_id},{rel}"
        self.record.note(f"Downloading {rel!r}")
        sent = time.time()
        try:
            chan.send_line(cmd)
            data = chan.recv_file()
        except WireError as exc:
            self.record.message(cmd, None, sent, None)
            self._drop()
            raise self._fail(step, str(exc)) from None
        self.record.message(cmd, f"<file: {len(data)} bytes>", sent, time.time())
        path = self.outdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        self.record.file(rel, data)
        self._fetched.add(rel)
        return path

    def done(self) -> None:
        """``session,<id>,done``, download the files not yet fetched, then ``cleanup,<id>``."""
        self._ok("done", f"session,{self.session_id},done")
        for rel in FETCH_FILES:
            if rel not in self._fetched:
                self.download(rel)
        self._ask("cleanup", f"cleanup,{self.session_id}")

    def close(self) -> None:
        """Close the connection and write ``power/client.json`` and ``power/client.log``."""
        if self._chan is not None:
            self._chan.close()
            self._chan = None
            self.record.note("Disconnected")
        self.record.write(self.outdir / "power")

    def _channel(self, step: str) -> Channel:
        if self._chan is None:
            raise self._fail(step, "not connected (the session is closed)")
        return self._chan

    def _ask(self, step: str, line: str) -> str:
        chan = self._channel(step)
        self.record.note(f"Sending command to the server: {line!r}")
        sent = time.time()
        try:
            chan.send_line(line)
            reply = chan.recv_line()
        except WireError as exc:
            self.record.message(line, None, sent, None)
            self._drop()
            raise self._fail(step, str(exc)) from None
        self.record.message(line, reply, sent, time.time())
        self.record.note(f"Got response: {reply!r}")
        if reply.startswith("Error"):
            raise self._fail(step, f"the director answered {reply!r}")
        return reply

    def _ok(self, step: str, line: str) -> None:
        reply = self._ask(step, line)
        if reply != "OK":
            raise self._fail(step, f"got {reply!r}, not 'OK'")

    def _drop(self) -> None:
        if self._chan is not None:
            self._chan.close()
            self._chan = None

    def _fail(self, step: str, detail: str) -> PowerError:
        self.record.note(f"{step}: {detail}", "ERROR")
        return PowerError(f"power director {self.host}:{self.port}: {step} failed: {detail}")


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be 'ranging' or 'testing', not {mode!r}")
