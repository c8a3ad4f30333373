"""PtdMeter / PtdClient against the fake PTDaemon on loopback (time-scaled, short settles)."""

from __future__ import annotations

import socket
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.errors import UsageError
from mlmeter.power._fake_ptd import FakePtd, Fault
from mlmeter.power._model import PowerError, PowerSample
from mlmeter.power._ptd import PtdMeter, from_spec
from mlmeter.power._ptd_client import PtdMessage, clock_offset
from mlmeter.power._spl import parse_spl_line

pytestmark = pytest.mark.timeout(60)
SCALE = 50.0  # 1000 ms samples every 20 ms
SETTLE = 0.05
TIMEOUT = 0.5
MARGIN = 1.0


def _meter(fake: FakePtd, **kw: float) -> PtdMeter:
    host, port = fake.address
    return PtdMeter(host, port, settle_s=SETTLE, timeout_s=kw.get("timeout", TIMEOUT))


def _log_rows(path: Path, mark: str) -> list[list[str]]:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    return [row for row in rows if row[11] == mark]


def test_full_ranging_and_testing_cycle(tmp_path: Path) -> None:
    log = tmp_path / "ptd.log"
    with FakePtd(log_path=log, time_scale=SCALE) as fake:
        meter = _meter(fake)
        info = meter.identify()
        assert (info.kind, info.scope, info.model) == ("ptd", "wall AC", "YokogawaWT310")
        # the fake says it has no analyzer behind it: never valid for a closed submission
        assert not info.valid_for_closed and info.needs_ranging
        meter.start("s_ranging", "ranging")
        time.sleep(0.1)
        ranging = meter.stop()
        meter.start("s_testing", "testing")
        time.sleep(0.1)
        live = meter.samples()
        testing = meter.stop()
        meter.close()
        received = list(fake.received)
        final_ranges = fake.analyzer.ranges_reply()
    # Expected testing ranges, from the analyzer's own log (hand-applied official rule).
    rows = _log_rows(log, "s_ranging")
    max_v = max(Decimal(r[5]) for r in rows)
    max_a = max(Decimal(r[7]) for r in rows)
    sr = [c for c in received if c.startswith("SR,")]
    assert sr == [
        "SR,V,Auto",
        "SR,A,Auto",
        f"SR,V,{max_v}",
        f"SR,A,{Decimal('1.1') * max_a}",
        "SR,V,300.000000",  # restored as RR reported them at connection
        "SR,A,5.000000",
    ]
    assert final_ranges == "Ranges,0,5.000000,0,300.000000"
    # Samples: every logged sample of each mark, in order; RL,*,* then RL (single channel).
    assert ranging == [parse_spl_line(",".join(r)) for r in rows]
    assert testing == [parse_spl_line(",".join(r)) for r in _log_rows(log, "s_testing")]
    assert len(ranging) >= 5 and live == testing[: len(live)]
    for samples in (ranging, testing):
        assert [s.t_utc for s in samples] == sorted(s.t_utc for s in samples)
    assert received.count("RL,*,*") == received.count("RL") >= 2
    assert received[:3] == ["Hello", "Identify", "RR"]
    assert meter.clock_offset is not None
    assert meter.clock_offset.low_s <= 0.005 and meter.clock_offset.high_s >= -0.005


def test_messages_are_recorded_with_times() -> None:
    with FakePtd(time_scale=SCALE) as fake:
        meter = _meter(fake)
        meter.start("m_ranging", "ranging")
        meter.stop()
        text = meter.ptd_out_text()
        meter.close()
    msgs = meter.messages_json()
    assert [m["cmd"] for m in msgs[:3]] == ["Hello", "Identify", "RR"]
    assert msgs[0]["reply"] == "Hello, PTDaemon here!"
    assert all(m["sent"] <= m["received"] for m in msgs)
    assert text.startswith("Watts,") and "\nUncertainty," in text


def test_testing_without_ranging_is_an_error() -> None:
    with FakePtd(time_scale=SCALE) as fake:
        meter = _meter(fake)
        with pytest.raises(PowerError, match="ranging first"):
            meter.start("t_testing", "testing")
        meter.close()


def test_unsupported_version_is_not_valid_for_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mlmeter.power._fake_ptd.IDENTIFY_REPLY", "YokogawaWT310,x,version=1.9.0-a")
    with FakePtd() as fake:
        meter = _meter(fake)
        info = meter.identify()
        meter.close()
    assert info.details["version"] == "1.9.0" and not info.valid_for_closed


def test_probe_unreachable_says_why_in_one_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        avail = PtdMeter("127.0.0.1", port, timeout_s=TIMEOUT).probe()
    assert not avail.ok and "cannot reach PTDaemon" in avail.reason and "\n" not in avail.reason


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault("drop"), "closed the connection during 'Go,1000,0,f_ranging'"),
        (Fault("garbage"), "answered 'Go,1000,0,f_ranging' with"),
        (Fault("silence"), "did not answer 'Go,1000,0,f_ranging' within 0.5 s"),
        (Fault("silence", after=1), "did not answer 'Identify' within 0.5 s"),
    ],
)
def test_faults_end_with_a_clear_error_in_bounded_time(fault: Fault, words: str) -> None:
    with FakePtd(time_scale=SCALE, faults=[fault]) as fake:
        meter = _meter(fake)
        began = time.monotonic()
        with pytest.raises(PowerError, match=r"PTDaemon at 127\.0\.0\.1") as err:
            meter.start("f_ranging", "ranging")
        elapsed = time.monotonic() - began
        meter.close()  # a broken connection: closes without waiting
    assert words in str(err.value)
    assert elapsed < SETTLE + TIMEOUT + MARGIN
    assert time.monotonic() - began < SETTLE + 2 * TIMEOUT + MARGIN


def test_clock_skew_is_reported() -> None:
    with FakePtd(time_scale=SCALE, faults=[Fault("skew", skew_s=2.0)]) as fake:
        meter = _meter(fake)
        meter.start("k_ranging", "ranging")
        began = time.monotonic()
        with pytest.raises(PowerError, match=r"clock differs .* by at least (19\d\d|2000) ms"):
            meter.stop()
        assert time.monotonic() - began < SETTLE + 2 * TIMEOUT + MARGIN
        meter.close()
    assert meter.clock_offset is not None
    assert meter.clock_offset.low_s <= 2.0 <= meter.clock_offset.high_s + 0.001


@given(
    offset=st.floats(-3.0, 3.0),
    go_delay=st.floats(0.0, 0.05),
    phase=st.floats(0.0, 0.999),
    n=st.integers(1, 20),
    interval=st.sampled_from([0.02, 1.0]),
)
def test_clock_offset_interval_contains_the_true_offset(
    offset: float, go_delay: float, phase: float, n: int, interval: float
) -> None:
    go_sent = 1000.0
    go_at = go_sent + go_delay  # the analyzer receives Go (this machine's clock)
    stamps = [go_at + k * interval + offset for k in range(1, n + 1)]
    stop_at = go_at + n * interval + phase * interval  # before the next sample is due
    go = PtdMessage("Go", "", go_sent, go_at + go_delay)
    stop = PtdMessage("Stop", "", stop_at - go_delay, stop_at + go_delay)
    samples = [PowerSample(t, 100.0) for t in stamps]
    bounds = clock_offset(samples, go, stop, interval)
    assert bounds is not None
    assert bounds.low_s - 1e-9 <= offset <= bounds.high_s + 1e-9
    assert bounds.high_s - bounds.low_s <= interval + 4 * go_delay + 1e-9


def test_from_spec() -> None:
    meter = from_spec("ptd://10.0.0.5:9999?settle=0.05&interval=500&timeout=2")
    assert (meter.address, meter.settle_s, meter.interval_ms) == ("10.0.0.5:9999", 0.05, 500)
    assert meter.client.timeout_s == 2.0
    assert from_spec("//h").address == "h:8888"
    for bad in ("ptd://h:1?speed=2", "ptd://:1", "ptd://h:1?settle=x"):
        with pytest.raises(UsageError, match="ptd"):
            from_spec(bad)


def test_a_real_supported_analyzer_is_valid_for_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same model and version from a daemon that does not say it is simulated."""
    monkeypatch.setattr(
        "mlmeter.power._fake_ptd.IDENTIFY_REPLY", "YokogawaWT310,C2PH13047V,version=1.11.1-ad"
    )
    with FakePtd() as fake:
        meter = _meter(fake)
        info = meter.identify()
        meter.close()
    assert info.details["version"] == "1.11.1" and info.valid_for_closed
