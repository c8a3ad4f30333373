"""The fake PTDaemon: exact reply strings, the sample log, stdout lines, time scale, CLI."""

from __future__ import annotations

import io
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from mlmeter.errors import UsageError
from mlmeter.power._fake_ptd import FakePtd, Fault, parse_fault
from mlmeter.power._ptd import PtdMeter
from mlmeter.power._ptd_analyzer import default_source, mains_volts, power_factor
from mlmeter.power._timefmt import format_power_time, parse_power_time

GOLDEN = Path(__file__).parents[1] / "golden" / "power_ptd_log.txt"
STAMP = re.compile(r"\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d{3}")
T0 = 1_700_000_000.0  # the manual clock's start (UTC)

pytestmark = pytest.mark.timeout(60)


class ManualClock:
    """A wall clock the test moves by hand (read by the fake's thread)."""

    def __init__(self, t: float) -> None:
        self.t = t
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


class Raw:
    """A bare line client, to see the exact bytes the fake sends."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5.0)
        self.file = self.sock.makefile("rb")

    def ask(self, cmd: str, extra_lines: int = 0) -> list[str]:
        self.sock.sendall(cmd.encode() + b"\r\n")
        lines = [self.file.readline() for _ in range(1 + extra_lines)]
        assert all(line.endswith(b"\r\n") for line in lines)
        return [line.decode().removesuffix("\r\n") for line in lines]

    def one(self, cmd: str) -> str:
        return self.ask(cmd)[0]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_exact_replies_of_the_command_table() -> None:
    clock = ManualClock(T0)
    with FakePtd(clock=clock) as fake:
        raw = Raw(fake.address)
        try:
            assert raw.one("Hello") == "Hello, PTDaemon here!"
            ident = raw.one("Identify")
            assert ident.split(",")[0] == "YokogawaWT310" and "version=1.11.1-" in ident
            assert raw.one("RR") == "Ranges,0,5.000000,0,300.000000"
            assert raw.one("SR,V,Auto") == "Range V changed"
            assert raw.one("SR,A,Auto") == "Range A changed"
            assert raw.one("RR") == "Ranges,1,5.000000,1,300.000000"
            assert raw.one("Go,1000,0,m_ranging") == (
                "Starting untimed measurement, maximum 500000 samples at 1000ms"
                " with 0 rampup samples"
            )
            clock.advance(3.5)
            assert raw.one("Stop") == "Stopping untimed measurement"
            assert raw.one("Stop") == "Error: no measurement to stop"
            assert raw.one("RL,*,*") == "Invalid number of parameters"
            head, *lines = raw.ask("RL", extra_lines=3)
            assert head == "Last 3 samples"
            assert [ln.split(",")[1] for ln in lines] == [
                format_power_time(T0 + k) for k in (1, 2, 3)
            ]
            assert raw.one("RL") == "Last 0 samples"  # unread samples only
            assert raw.one("Watts").startswith("Watts,")
            assert raw.one("Uncertainty").startswith("Uncertainty,")
        finally:
            raw.close()


def _reading(t: float) -> tuple[float, float, float, float]:
    watts, volts, pf = default_source(t), mains_volts(t), power_factor(t)
    return watts, round(volts, 4), round(watts / (volts * pf), 4), round(pf, 4)


def test_sample_log_matches_golden_and_source(tmp_path: Path) -> None:
    clock, log = ManualClock(T0), tmp_path / "ptd.log"
    out = io.StringIO()
    with FakePtd(clock=clock, log_path=log, out=out) as fake:
        raw = Raw(fake.address)
        try:
            raw.one("Go,1000,0,g_ranging")
            clock.advance(5.5)
            raw.one("Stop")
            raw.one("SR,V,300")
            raw.one("Go,1000,0,g_testing")
            clock.advance(3.2)
            raw.one("Stop")
        finally:
            raw.close()
    text = log.read_text()
    assert STAMP.sub("<time>", text) == GOLDEN.read_text()
    rows = [line.split(",") for line in text.splitlines()]
    go_times = {"g_ranging": T0, "g_testing": T0 + 5.5}
    for k, row in enumerate(rows):
        mark = row[11]
        index = k + 1 if mark == "g_ranging" else k - 4
        wall = go_times[mark] + index
        assert parse_power_time(row[1]) == pytest.approx(wall, abs=1e-3)
        watts, volts, amps, pf = _reading(wall - T0)
        assert [float(row[i]) for i in (3, 5, 7, 9)] == pytest.approx([watts, volts, amps, pf])
    lines = out.getvalue().splitlines()
    assert lines[0] == "Uncertainty checking for YokogawaWT310 is activated"
    assert lines[1] == f"{format_power_time(T0)}: Go with mark 'g_ranging'"
    assert lines[2] == f"{format_power_time(T0 + 5.5)}: Completed test"


def test_time_scale_sets_the_real_sample_spacing() -> None:
    clock = ManualClock(T0)
    with FakePtd(clock=clock, time_scale=50.0) as fake:
        raw = Raw(fake.address)
        try:
            raw.one("Go,1000,0,fast")
            clock.advance(0.101)  # 1000 ms / 50 = 20 ms per sample: 5 samples
            raw.one("Stop")
            head, *lines = raw.ask("RL", extra_lines=5)
        finally:
            raw.close()
    assert head == "Last 5 samples"
    stamps = [parse_power_time(ln.split(",")[1]) for ln in lines]
    assert stamps == pytest.approx([T0 + 0.02 * k for k in range(1, 6)], abs=1e-3)


def test_fixed_range_clips_over_range_readings() -> None:
    clock, out = ManualClock(T0), io.StringIO()
    with FakePtd(clock=clock, out=out) as fake:
        raw = Raw(fake.address)
        try:
            raw.one("SR,V,15")
            raw.one("Go,1000,0,low")
            clock.advance(1.5)
            raw.one("Stop")
            _, line = raw.ask("RL", extra_lines=1)
        finally:
            raw.close()
    assert Decimal(line.split(",")[5]) == Decimal("15")
    assert "WARNING: V reading" in out.getvalue()


def test_auto_range_follows_the_reading() -> None:
    # The uncertainty depends on the range in use: 300 V x 1 A in auto for ~230 V, ~0.7 A.
    clock = ManualClock(T0)
    with FakePtd(clock=clock) as fake:
        raw = Raw(fake.address)
        try:
            raw.one("SR,V,Auto")
            raw.one("SR,A,Auto")
            reply = raw.one("Uncertainty")
        finally:
            raw.close()
    watts = default_source(0.0)
    assert reply == f"Uncertainty,{0.1 + 0.1 * 300.0 * 1.0 / watts:.4f}%"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("drop", Fault("drop")),
        ("garbage:after=3", Fault("garbage", after=3)),
        ("silence:after=0", Fault("silence", after=0)),
        ("skew:2.5", Fault("skew", skew_s=2.5)),
    ],
)
def test_parse_fault(text: str, fault: Fault) -> None:
    assert parse_fault(text) == fault


@pytest.mark.parametrize("text", ["fire", "drop:after=x", "skew", "silence:before=2"])
def test_parse_fault_rejects_bad_forms(text: str) -> None:
    with pytest.raises(UsageError, match="--fault"):
        parse_fault(text)


CLI_SHIM = (
    "import argparse, sys; from mlmeter.cli import power; p = argparse.ArgumentParser(); "
    "power.add_parser(p.add_subparsers()); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


def test_cli_fake_ptd_starts_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "ptd.log"
    args = ["power", "fake-ptd", "--port", "0", "--time-scale", "100", "--log", str(log)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI_SHIM, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        match = re.fullmatch(r"fake-ptd at (\S+):(\d+)\n", lines[1])
        assert lines[0].startswith("Uncertainty checking for") and match
        meter = PtdMeter(match[1], int(match[2]), settle_s=0.05, timeout_s=5.0)
        meter.start("cli_ranging", "ranging")
        samples = meter.stop()
        meter.close()
        assert samples and all(s.mark == "cli_ranging" for s in samples)
        assert not math.isnan(samples[0].watts)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert len(log.read_text().splitlines()) >= len(samples)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
