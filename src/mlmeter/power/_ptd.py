"""``--power ptd://HOST:PORT``: a PTDaemon analyzer driven directly, as the director does.

Ranging (``start(mark, "ranging")``): ``SR,V,Auto``, ``SR,A,Auto``, settle, ``Go``; the
maxima of the ranging samples set the testing ranges: ``SR,V,<max volts>`` and
``SR,A,<1.1 x max amps>`` (``start(mark, "testing")``). ``stop()`` waits to settle, sends
``Stop`` and reads the samples (``RL,*,*``, else ``RL``). ``close()`` restores the ranges
``RR`` reported at connection. The clock offset between PTDaemon's stamps and this machine
is bounded from the ``Go``/``Stop`` round trips; above 400 ms it is an error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mlmeter.errors import UsageError, UserError
from mlmeter.power._model import Availability, MeterInfo, PowerError, PowerSample
from mlmeter.power._ptd_client import (
    GO_REPLY,
    HELLO_REPLY,
    SR_REPLY,
    STOP_REPLY,
    ClockOffset,
    PtdClient,
    PtdMessage,
    clock_offset,
)
from mlmeter.power._spl import parse_spl_line

SUPPORTED_VERSION = "1.11.1"
_MODELS = ("WT210", "WT310", "WT310E", "WT330", "WT330E", "WT500", "WT500_multichannel")
_MODELS_MORE = ("WT330_multichannel", "WT210_DC", "WT310_DC", "WT330_DC")
SUPPORTED_MODELS = frozenset(f"Yokogawa{m}" for m in _MODELS + _MODELS_MORE)  # compliance/check.py
DEFAULT_PORT = 8888
CLOCK_LIMIT_S = 0.4  # lib/time_sync.py: CRITICAL_DIFFERENCE_TIME_MS
_PHASES = ("ranging", "testing")


class PtdMeter:
    """The Meter protocol over a PtdClient; ``needs_ranging`` is True."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        settle_s: float = 10.0,
        interval_ms: int = 1000,
        timeout_s: float = 10.0,
        clock_limit_s: float = CLOCK_LIMIT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = PtdClient(host, port, timeout_s=timeout_s)
        self.settle_s, self.interval_ms, self.clock_limit_s = settle_s, interval_ms, clock_limit_s
        self._sleep = sleep
        self._identify = ""
        self._initial: tuple[str, str] | None = None  # (volts, amps) as SR arguments
        self._maxima: tuple[Decimal, Decimal] | None = None  # (volts, amps) from ranging
        self._mark: str | None = None
        self._phase = "testing"
        self._go: PtdMessage | None = None
        self._samples: list[PowerSample] = []
        self._va: list[tuple[Decimal, Decimal]] = []  # volts, amps as the analyzer wrote them
        self.clock_offset: ClockOffset | None = None

    def probe(self) -> Availability:
        """Connect, ``Hello`` and ``Identify``; the reason in one line when that fails."""
        try:
            self._connect()
        except PowerError as exc:
            return Availability(False, str(exc))
        return Availability(True)

    def identify(self) -> MeterInfo:
        """Model and version from ``Identify``; valid for closed only for a supported pair."""
        self._connect()
        model = self._identify.split(",")[0]
        version = _version(self._identify)
        return MeterInfo(
            kind="ptd",
            model=model,
            scope="wall AC",
            valid_for_closed=model in SUPPORTED_MODELS
            and version == SUPPORTED_VERSION
            and not _simulated(self._identify),
            needs_ranging=True,
            details={"identify": self._identify, "version": version, "address": self.address},
        )

    @property
    def address(self) -> str:
        """``HOST:PORT`` of PTDaemon."""
        return self.client.address

    @property
    def ranging_maxima(self) -> tuple[Decimal, Decimal] | None:
        """(max volts, max amps) seen in the last ranging run."""
        return self._maxima

    def start(self, mark: str, phase: str = "testing") -> None:
        """Set the ranges for ``phase``, let the analyzer settle, ``Go`` with ``mark``."""
        if phase not in _PHASES:
            raise UsageError(f"unknown power phase {phase!r}: use 'ranging' or 'testing'")
        self._connect()
        volts, amps = ("Auto", "Auto") if phase == "ranging" else self._testing_ranges()
        self.client.command(f"SR,V,{volts}", SR_REPLY.format(channel="V"))
        self.client.command(f"SR,A,{amps}", SR_REPLY.format(channel="A"))
        self._sleep(self.settle_s)
        ms = self.interval_ms
        self.client.command(f"Go,{ms},0,{mark}", GO_REPLY.format(ms=ms))
        self._go = self.client.messages[-1]
        self._mark, self._phase, self._samples, self._va = mark, phase, [], []

    def samples(self) -> Sequence[PowerSample]:
        """The samples of the running measurement so far (reads the unread ones)."""
        if self._mark is not None and self.client.connected:
            self._read()
        return list(self._samples)

    def stop(self) -> Sequence[PowerSample]:
        """Settle, ``Stop``, read the samples; PowerError when the clocks differ too much."""
        if self._mark is None or self._go is None:
            raise PowerError("PTDaemon stop() without start(): call start(mark, phase) first")
        self._sleep(self.settle_s)
        self.client.command("Stop", STOP_REPLY)
        stop_msg = self.client.messages[-1]
        self._read()
        self._mark = None
        samples = list(self._samples)
        if self._phase == "ranging":
            self._maxima = _maxima(self._va)
        self._check_clock(samples, stop_msg)
        return samples

    def close(self) -> None:
        """Stop a running measurement, restore the initial ranges, close the connection."""
        try:
            if self.client.connected and self._mark is not None:
                self.client.command("Stop", STOP_REPLY)
                self._mark = None
            if self.client.connected and self._initial is not None:
                volts, amps = self._initial
                self.client.command(f"SR,V,{volts}", SR_REPLY.format(channel="V"))
                self.client.command(f"SR,A,{amps}", SR_REPLY.format(channel="A"))
        finally:
            self.client.close()

    def ptd_out_text(self) -> str:
        """``Watts`` and ``Uncertainty`` replies, the sanity values of ``ptd_out.txt``."""
        self._connect()
        lines = [self.client.command(cmd) for cmd in ("Watts", "Uncertainty")]
        return "".join(line + "\n" for line in lines)

    def messages_json(self) -> list[dict[str, Any]]:
        """Every command/reply pair so far, for ``ptd_messages`` in the logs."""
        return [m.to_json() for m in self.client.messages]

    def _connect(self) -> None:
        if self.client.connected:
            return
        self.client.connect()
        self.client.command("Hello", HELLO_REPLY)
        self._identify = self.client.command("Identify")
        if self._initial is None:
            self._initial = _initial_ranges(self.client.command_prefixed("RR", "Ranges,"))

    def _testing_ranges(self) -> tuple[str, str]:
        if self._maxima is None:
            raise PowerError(
                "PTDaemon testing needs the ranges from a ranging run: run ranging first"
            )
        volts, amps = self._maxima
        return str(volts), str(Decimal("1.1") * amps)

    def _read(self) -> None:
        for line in self.client.read_samples():
            try:
                sample = parse_spl_line(line)
            except (ValueError, UserError) as exc:
                self.client.close()
                raise PowerError(f"PTDaemon at {self.address} sent {line!r}: {exc}") from None
            if sample.mark == self._mark:
                self._samples.append(sample)
                fields = line.split(",")
                self._va.append((Decimal(fields[5]), Decimal(fields[7])))

    def _check_clock(self, samples: list[PowerSample], stop_msg: PtdMessage) -> None:
        assert self._go is not None
        interval = _interval(samples, self.interval_ms / 1000.0)
        self.clock_offset = offset = clock_offset(samples, self._go, stop_msg, interval)
        if offset is None:
            return
        limit = self.clock_limit_s
        if offset.low_s > limit or offset.high_s < -limit:
            worst = offset.low_s if offset.low_s > limit else offset.high_s
            raise PowerError(
                f"PTDaemon at {self.address}: its clock differs from this machine's by at "
                f"least {abs(worst) * 1000:.0f} ms (limit {limit * 1000:.0f} ms); "
                "sync both machines to one NTP server"
            )


def _version(identify: str) -> str:
    _, found, rest = identify.partition("version=")
    return rest.split("-")[0].split(",")[0] if found else ""


def _initial_ranges(rr: str) -> tuple[str, str]:
    """(volts, amps) SR arguments from ``Ranges,<A auto>,<A>,<V auto>,<V>``, as the
    director reads them: a fixed positive range verbatim, anything else ``Auto``."""
    fields = rr.split(",")

    def pick(i: int) -> str:
        try:
            return fields[i + 1] if fields[i] == "0" and float(fields[i + 1]) > 0 else "Auto"
        except (IndexError, ValueError):
            return "Auto"

    return pick(3), pick(1)


def _maxima(va: Sequence[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal] | None:
    """Max volts and max amps, exact as logged (the director reads them as Decimal)."""
    if not va:
        return None
    volts, amps = max(v for v, _ in va), max(a for _, a in va)
    return (volts, amps) if volts > 0 and amps > 0 else None


def _interval(samples: Sequence[PowerSample], nominal_s: float) -> float:
    gaps = sorted(b.t_utc - a.t_utc for a, b in itertools.pairwise(samples))
    return gaps[len(gaps) // 2] if gaps else nominal_s


def from_spec(spec: str) -> PtdMeter:
    """``ptd://HOST:PORT?settle=S&interval=MS&timeout=S`` (the scheme part is optional)."""
    text = spec.removeprefix("ptd:")
    parts = urlsplit(text if text.startswith("//") else f"//{text}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(options) - {"settle", "interval", "timeout"})
    if unknown or not parts.hostname:
        raise UsageError(
            f"bad --power ptd spec {spec!r}: use ptd://HOST:PORT?settle=S&interval=MS&timeout=S"
        )
    try:
        return PtdMeter(
            parts.hostname,
            parts.port or DEFAULT_PORT,
            settle_s=float(options.get("settle", 10.0)),
            interval_ms=int(options.get("interval", 1000)),
            timeout_s=float(options.get("timeout", 10.0)),
        )
    except ValueError as exc:
        raise UsageError(f"bad --power ptd spec {spec!r}: {exc}") from None


def _simulated(identify: str) -> bool:
    """An ``Identify`` reply that says no analyzer is behind it (mlmeter's fake-ptd)."""
    text = identify.lower()
    return "no analyzer" in text or "fake" in text
