"""``--power director://HOST:PORT``: a power director behind the ``Meter`` calls.

``start(mark, "ranging")`` opens the session (handshake, clock check, ``new``) and starts
ranging; ``stop()`` stops it and returns the samples of the director's ``ranging/spl.txt``;
``start(mark, "testing")`` / ``stop()`` do the same for testing, then ``done`` fetches the
official files and cleans up. The samples keep the director's mark (``<session>_<mode>``);
the ``mark`` passed in is not sent (the protocol has no place for it). The files land in
``output_dir`` in the official layout (``power/``, ``ranging/``, ``run_1/``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from mlmeter.errors import UsageError, UserError
from mlmeter.power._director import (
    CLIENT_MAGIC,
    DEFAULT_PORT,
    MODES,
    SERVER_MAGIC,
    SPL_OF_MODE,
    DirectorSession,
    check_label,
)
from mlmeter.power._director_wire import Channel, WireError
from mlmeter.power._model import Availability, MeterInfo, PowerError, PowerSample
from mlmeter.power._spl import read_spl

_SPEC_HELP = "expected director://HOST[:PORT][?label=NAME&timeout=SECONDS]"


class DirectorMeter:
    """A ``Meter`` backed by an MLCommons power director (wall AC, valid for closed)."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        label: str = "mlmeter",
        output_dir: str | Path | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.host, self.port, self.label = host, port, check_label(label)
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self._session: DirectorSession | None = None
        self._phase: str | None = None
        self._last: list[PowerSample] = []

    def probe(self) -> Availability:
        """Connect and shake hands (no session is opened)."""
        try:
            chan = Channel.connect(self.host, self.port, self.connect_timeout_s, self.timeout_s)
        except WireError as exc:
            return Availability(False, f"power director {self.host}:{self.port}: {exc}")
        try:
            chan.send_line(CLIENT_MAGIC)
            reply = chan.recv_line()
        except WireError as exc:
            return Availability(False, f"power director {self.host}:{self.port}: {exc}")
        finally:
            chan.close()
        if reply != SERVER_MAGIC:
            return Availability(False, f"{self.host}:{self.port} is not a v3 power director")
        return Availability(True)

    def identify(self) -> MeterInfo:
        """Kind ``director``: the analyzer at the wall, driven by the director."""
        s = self._session
        details: dict[str, object] = {"host": self.host, "port": self.port, "label": self.label}
        if s is not None:
            details |= {
                "session": s.session_id,
                "client_uuid": s.record.client_uuid,
                "server_uuid": s.record.server_uuid,
            }
        return MeterInfo(
            kind="director",
            model=f"MLCommons power director {self.host}:{self.port}",
            scope="wall AC",
            valid_for_closed=True,
            needs_ranging=True,
            details=details,
        )

    def start(self, mark: str, phase: str = "testing") -> None:
        """Open the session on first use, then start ``phase`` at the director."""
        if phase not in MODES:
            raise ValueError(f"phase must be 'ranging' or 'testing', not {phase!r}")
        if self._session is None:
            if self.output_dir is None:
                self.output_dir = Path(tempfile.mkdtemp(prefix="mlmeter-director-"))
            self._session = DirectorSession(
                self.host,
                self.port,
                self.label,
                self.output_dir,
                timeout_s=self.timeout_s,
                connect_timeout_s=self.connect_timeout_s,
            )
            self._session.open()
        self._session.start(phase)
        self._phase, self._last = phase, []

    def samples(self) -> Sequence[PowerSample]:
        """The samples of the last stopped phase (a director gives them only after stop)."""
        return list(self._last)

    def stop(self) -> Sequence[PowerSample]:
        """Stop the phase, fetch its ``spl.txt`` (after testing: all files) and parse it."""
        s, phase = self._session, self._phase
        if s is None or phase is None:
            raise PowerError("power director: stop() without start()")
        s.stop(phase)
        self._phase = None
        if phase == "ranging":
            path = s.download(SPL_OF_MODE[phase])
        else:
            s.done()
            path = s.outdir / SPL_OF_MODE[phase]
        try:
            self._last = read_spl(path)
        except (UserError, UnicodeDecodeError) as exc:
            raise PowerError(f"power director sent a bad {SPL_OF_MODE[phase]}: {exc}") from None
        return list(self._last)

    def close(self) -> None:
        """Close the connection; ``power/client.json`` and ``client.log`` are written."""
        if self._session is not None:
            self._session.close()
            self._session = None


def from_spec(spec: str) -> DirectorMeter:
    """``director://HOST[:PORT][?label=NAME&timeout=SECONDS]`` (``director:`` optional)."""
    text = spec if "://" in spec else "director://" + spec.removeprefix("director:").lstrip("/")
    u = urlsplit(text)
    try:
        port = u.port or DEFAULT_PORT
    except ValueError:
        raise UsageError(f"--power {spec!r}: bad port; {_SPEC_HELP}") from None
    if u.scheme != "director" or not u.hostname or u.path not in ("", "/"):
        raise UsageError(f"--power {spec!r}: {_SPEC_HELP}")
    opts = dict(parse_qsl(u.query, keep_blank_values=True))
    unknown = sorted(set(opts) - {"label", "timeout"})
    if unknown:
        raise UsageError(f"--power {spec!r}: unknown option {unknown[0]!r}; {_SPEC_HELP}")
    try:
        timeout_s = float(opts.get("timeout", "120"))
    except ValueError:
        raise UsageError(f"--power {spec!r}: timeout must be seconds; {_SPEC_HELP}") from None
    label = opts.get("label", "mlmeter")
    return DirectorMeter(u.hostname, port, label=label, timeout_s=timeout_s)
