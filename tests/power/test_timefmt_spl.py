"""The official power timestamp and the spl.txt sample log (golden file)."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.errors import UserError
from mlmeter.loadgen._outputs import _power_time
from mlmeter.power._model import PowerSample
from mlmeter.power._spl import format_spl_line, parse_spl, parse_spl_line, read_spl, write_spl
from mlmeter.power._timefmt import format_power_time, format_power_time_ns, parse_power_time

GOLDEN = Path(__file__).parent.parent / "golden" / "power_spl.txt"
_WALL_NS = st.integers(min_value=0, max_value=4_102_444_800 * 10**9)  # 1970 .. 2100


def test_known_stamp_is_month_first_utc() -> None:
    t = calendar.timegm((2020, 12, 23, 10, 21, 51)) + 0.496
    assert format_power_time(t) == "12-23-2020 10:21:51.496"
    assert parse_power_time("12-23-2020 10:21:51.496") == pytest.approx(t, abs=1e-6)


@given(_WALL_NS)
def test_ns_format_matches_the_loadgen_exactly(wall_ns: int) -> None:
    assert format_power_time_ns(wall_ns) == _power_time(wall_ns)


@given(_WALL_NS)
def test_round_trip_keeps_the_millisecond(wall_ns: int) -> None:
    text = format_power_time_ns(wall_ns)
    t = parse_power_time(text)
    assert format_power_time(t) == text
    assert abs(t - wall_ns / 1e9) < 1e-3 + 1e-6


@pytest.mark.parametrize(
    "bad", ["2020-12-23 10:21:51.496", "23-12-2020 10:21:51.496", "12-23-2020 10:21:51", "x"]
)
def test_bad_stamps_are_one_line_user_errors(bad: str) -> None:
    with pytest.raises(UserError, match=r"^invalid power timestamp") as info:
        parse_power_time(bad)
    assert "\n" not in str(info.value)


def _samples() -> list[PowerSample]:
    t0 = calendar.timegm((2024, 3, 7, 9, 5, 1)) + 0.25
    return [
        PowerSample(t0, 23.43, 228.37, 0.20428, 0.5023, "2024-03-07_09-04-00_run_testing"),
        PowerSample(t0 + 1.009, 33.52, 228.4, 0.28199, 0.5205, "2024-03-07_09-04-00_run_testing"),
        PowerSample(t0 + 2.018, 272.93, None, None, None, "2024-03-07_09-04-00_run_testing"),
        PowerSample(t0 + 3.0, 12.5),
    ]


def test_writer_matches_the_golden_file(tmp_path: Path) -> None:
    out = tmp_path / "spl.txt"
    write_spl(out, _samples())
    assert out.read_bytes() == GOLDEN.read_bytes()


def test_line_is_exactly_ptdaemons() -> None:
    line = format_spl_line(PowerSample(1608718911.496, 23.43, 228.37, 0.20428, 0.5023, "m_ranging"))
    expected = (
        "Time,12-23-2020 10:21:51.496,Watts,23.430000,Volts,228.370000,Amps,0.204280,"
        "PF,0.502300,Mark,m_ranging"
    )
    assert line == expected


def test_reader_round_trips_the_golden_file() -> None:
    got = read_spl(GOLDEN)
    want = _samples()
    assert [s.mark for s in got] == [s.mark for s in want]
    for g, w in zip(got, want, strict=True):
        assert g.watts == w.watts and g.volts == w.volts and g.amps == w.amps and g.pf == w.pf
        assert abs(g.t_utc - w.t_utc) < 1e-3


def test_reader_takes_the_totals_of_a_multichannel_line() -> None:
    line = (
        "Time,11-13-2020 22:38:59.240,Watts,272.930000,Volts,-1.000000,Amps,-1.000000,"
        "PF,-1.000000,Mark,notset,Ch1,Watts,91.060000,Volts,120.950000,Amps,0.832100,"
        "PF,0.938900,Ch2,Watts,90.970000,Volts,120.830000,Amps,0.802000,PF,0.938800\r\n"
    )
    s = parse_spl_line(line)
    assert (s.watts, s.volts, s.amps, s.pf, s.mark) == (272.93, None, None, None, "")
    assert format_power_time(s.t_utc) == "11-13-2020 22:38:59.240"


def test_reader_names_the_bad_line() -> None:
    good = format_spl_line(PowerSample(time.time(), 1.0))
    with pytest.raises(UserError, match=r"^x/spl.txt:3: not a sample line"):
        parse_spl(f"{good}\n\n Watts,1\n", "x/spl.txt")
