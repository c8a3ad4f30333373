"""``mlmeter run ... --power``: the orchestrator, its files, and the CLI, against the simulated
meter, the fake PTDaemon and a director stand-in on loopback (short runs, fast meters)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from director_standin import DirectorStandIn

import mlmeter.power._run as run_mod
from _golden import check_golden
from mlmeter.cli.main import main
from mlmeter.loadgen import LogSettings, TestResult
from mlmeter.power._fake_ptd import FakePtd, parse_fault
from mlmeter.power._metrics import inference_power, window_stats
from mlmeter.power._model import MeterInfo, PowerError
from mlmeter.power._ptd import PtdMeter
from mlmeter.power._run import PhaseResult, PowerRunResult, run_with_power
from mlmeter.power._run_files import power_document
from mlmeter.power._sim import FakeWallClock, SimulatedMeter, from_spec
from mlmeter.power._sim_profiles import Square
from mlmeter.power._window import PowerWindow, window_from_detail
from mlmeter.settings import Scenario, TestMode, TestSettings
from mlmeter.suts import FixedLatencySUT, NullQSL

pytestmark = pytest.mark.timeout(60)
SMALL = ["--set", "min_duration=300", "--set", "min_query_count=10", "--quiet", "--no-record"]
FIXED = ["run", "fixed", "--service-ms", "2", "--workers", "4"]
SIM = "sim:profile=square,low=80,high=120,period=0.1,interval=0.01"
SCALE = 50.0  # the fake analyzer's 1000 ms samples every 20 ms


def _json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _utc(text: str) -> float:
    """``MM-DD-YYYY HH:MM:SS.mmm`` (UTC) by hand, independent of mlmeter's parser."""
    t = dt.datetime.strptime(text, "%m-%d-%Y %H:%M:%S.%f").replace(tzinfo=dt.UTC)
    return t.timestamp()


def _spl(path: Path) -> list[tuple[float, float, list[str]]]:
    rows = [line.split(",") for line in path.read_text().splitlines() if line]
    return [(_utc(r[1]), float(r[3]), r) for r in rows]


def _window(outdir: Path) -> tuple[float, float]:
    """power_begin/power_end from the detail log, read by hand."""
    found = {}
    for line in (outdir / "mlperf_log_detail.txt").read_text().splitlines():
        m = re.search(r'"key": "(power_begin|power_end)", "value": "([^"]+)"', line)
        if m:
            found[m.group(1)] = _utc(m.group(2))
    return found["power_begin"], found["power_end"]


def _offline(min_ms: int = 400) -> TestSettings:
    return TestSettings(
        scenario=Scenario.OFFLINE,
        mode=TestMode.PERFORMANCE_ONLY,
        min_duration_ms=min_ms,
        min_query_count=1,
        offline_expected_qps=2000,
    )


# ---------------------------------------------------------------- simulated meter


@pytest.mark.parametrize(
    "spec",
    ["profile=ramp,start=50,end=250,duration=2,interval=0.005", "profile=sine,interval=0.005"],
)
def test_energy_matches_the_analytic_value(spec: str, tmp_path: Path) -> None:
    """Within 1 %: the window's edges cut at most one 5 ms sample at each end of a run of
    at least 1 s (0.5 % at the worst), and power_begin/end carry whole milliseconds."""
    meter = from_spec(spec)
    settings = _offline(min_ms=1000)
    run = run_with_power(FixedLatencySUT(2, 4), NullQSL(), settings, LogSettings(tmp_path), meter)
    window = window_from_detail(tmp_path / "mlperf_log_detail.txt")
    expected = meter.expected_energy(window.begin_utc, window.end_utc)
    testing = run.phase("testing")
    assert testing is not None and testing.stats is not None and run.metric is not None
    assert testing.stats.energy_j == pytest.approx(expected, rel=0.01)
    assert run.metric.avg_watts == pytest.approx(expected / window.duration_s, rel=0.01)
    assert run.valid and run.phases[0].phase == "testing" and len(run.phases) == 1


def _hand_metrics(outdir: Path, scenario: str) -> tuple[float, float, float]:
    """(avg W, metric, samples/J) by the official formulas, from the files by hand."""
    begin, end = _window(outdir)
    watts = [w for t, w, _ in _spl(outdir / "spl.txt") if begin < t < end and w > 0]
    avg = sum(watts) / len(watts)
    r = _json(outdir / "results.json")["result"]
    if scenario in ("Offline", "Server"):
        rate = r["samples_per_second"] if scenario == "Offline" else r["completed_samples_per_sec"]
        return avg, avg, rate / avg
    mj = avg * (end - begin) * 1000 / r["query_count"]
    per_query = 8 if scenario == "MultiStream" else 1
    return avg, mj, per_query * 1000 / mj


@pytest.mark.parametrize("scenario", ["SingleStream", "MultiStream", "Server", "Offline"])
def test_scenario_metrics_match_the_official_formulas(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*FIXED, "--scenario", scenario, "--output", str(tmp_path), *SMALL, "--power", SIM])
    out, err = capsys.readouterr()
    doc = _json(tmp_path / "power/power.json")
    avg, metric, spj = _hand_metrics(tmp_path, scenario)
    m = doc["metric"]
    assert (m["avg_watts"], m["value"], m["samples_per_joule"]) == pytest.approx((avg, metric, spj))
    assert m["unit"] == ("Watts" if scenario in ("Offline", "Server") else "millijoules")
    results = _json(tmp_path / "results.json")
    assert results["power"]["valid"] is doc["valid"] is True
    assert results["power"]["metric"] == m
    assert code == (0 if results["validity"]["valid"] else 1), out + err
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    block = summary[summary.index("\nPower (mlmeter):\n") :]
    assert f"  Average power (W) : {avg:.3f}\n" in block
    assert ("Energy per query (mJ) : " in block) == (m["unit"] == "millijoules")
    assert "  Power result : VALID\n" in block
    assert "  Meter : sim (simulated (square)), not valid for a closed power submission" in block
    assert re.search(r"power \(sim\)\s+: .*samples/J, VALID", out)


def test_the_official_summary_stays_byte_identical(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before: dict[str, bytes] = {}
    real = run_mod.write_power_files

    def spy(outdir: Path, run: PowerRunResult) -> None:
        before["summary"] = (outdir / "mlperf_log_summary.txt").read_bytes()
        real(outdir, run)

    monkeypatch.setattr(run_mod, "write_power_files", spy)
    meter = from_spec("interval=0.01")
    run_with_power(FixedLatencySUT(2, 4), NullQSL(), _offline(300), LogSettings(tmp_path), meter)
    after = (tmp_path / "mlperf_log_summary.txt").read_bytes()
    assert after.startswith(before["summary"]) and len(after) > len(before["summary"])
    assert after[len(before["summary"]) :].startswith(b"\nPower (mlmeter):\n")


def test_missing_samples_make_only_the_power_result_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = "sim:interval=0.01,dropout=0.5,seed=3"
    code = main([*FIXED, "--output", str(tmp_path), *SMALL, "--power", spec])
    out, _ = capsys.readouterr()
    doc = _json(tmp_path / "power/power.json")
    assert _json(tmp_path / "results.json")["validity"]["valid"] is True
    assert doc["valid"] is False and code == 1
    assert any("power samples missing" in p for p in doc["problems"])
    assert (
        "Power result : INVALID (testing: power samples missing:"
        in (tmp_path / "mlperf_log_summary.txt").read_text()
    )
    assert "INVALID (testing: power samples missing" in out


def test_power_needs_a_performance_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["run", "null", "--mode", "accuracy", "--output", str(tmp_path), *SMALL, "--power", "sim"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "use --mode performance" in err


# ---------------------------------------------------------------- fake PTDaemon


def _ptd_spec(fake: FakePtd, timeout: float = 2.0) -> str:
    host, port = fake.address
    return f"ptd://{host}:{port}?settle=0.05&timeout={timeout}"


def test_ranging_and_testing_against_the_fake_analyzer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir, log = tmp_path / "run", tmp_path / "ptd.log"
    with FakePtd(log_path=log, time_scale=SCALE, source=lambda t: 180.0) as fake:
        code = main([*FIXED, "--output", str(out_dir), *SMALL, "--power", _ptd_spec(fake)])
        received = list(fake.received)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    for rel in (
        "ranging/spl.txt",
        "spl.txt",
        "power/power.json",
        "power/ptd_messages.json",
        "ptd_out.txt",
        "ranging/mlperf_log_summary.txt",
        "mlperf_log_detail.txt",
    ):
        assert (out_dir / rel).is_file(), rel
    doc = _json(out_dir / "power/power.json")
    marks = {p: doc["phases"][p]["mark"] for p in ("ranging", "testing")}
    logged = [line.split(",") for line in log.read_text().splitlines()]
    ranging_rows = [r for r in logged if r[11] == marks["ranging"]]
    # the testing ranges come from ranging: max volts, 1.1 x max amps (hand-applied rule)
    max_v = max(Decimal(r[5]) for r in ranging_rows)
    max_a = max(Decimal(r[7]) for r in ranging_rows)
    sr = [c for c in received if c.startswith("SR,")]
    assert sr[:4] == ["SR,V,Auto", "SR,A,Auto", f"SR,V,{max_v}", f"SR,A,{Decimal('1.1') * max_a}"]
    # spl.txt files hold every sample of their phase, as the analyzer logged them
    assert [r for _, _, r in _spl(out_dir / "ranging/spl.txt")] == ranging_rows
    assert [r for _, _, r in _spl(out_dir / "spl.txt")] == [
        r for r in logged if r[11] == marks["testing"]
    ]
    assert doc["meter"]["kind"] == "ptd" and doc["valid"] is True
    assert doc["ranging_vs_testing"]["delta_pct"] == pytest.approx(0.0, abs=0.01)
    assert doc["clock"]["source"] == "ptd"
    assert (out_dir / "ptd_out.txt").read_text().startswith("Watts,")
    msgs = json.loads((out_dir / "power/ptd_messages.json").read_text())
    assert [m["cmd"] for m in msgs] == received  # every command, with its reply


def _go_index(received: list[str], nth: int) -> int:
    return [i for i, c in enumerate(received) if c.startswith("Go")][nth]


@pytest.mark.parametrize("fault", ["drop", "garbage", "silence", "skew:5", "drop:after=GO2"])
def test_each_analyzer_fault_ends_the_run_with_a_clear_message(
    fault: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if fault.endswith("GO2"):  # the testing run's Go: the ranging logs must survive
        with FakePtd(time_scale=SCALE, source=lambda t: 180.0) as fake:
            main([*FIXED, "--output", str(tmp_path / "probe"), *SMALL, "--power", _ptd_spec(fake)])
            fault = f"drop:after={_go_index(list(fake.received), 1)}"
        capsys.readouterr()
    out_dir = tmp_path / "run"
    with FakePtd(time_scale=SCALE, source=lambda t: 180.0, faults=[parse_fault(fault)]) as fake:
        t0 = time.monotonic()
        code = main(
            [*FIXED, "--output", str(out_dir), *SMALL, "--power", _ptd_spec(fake, timeout=0.5)]
        )
        elapsed = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 3 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "PTDaemon" in err or "power" in err.lower()
    assert elapsed < 15
    doc = _json(out_dir / "power/power.json")
    assert doc["error"] and doc["valid"] is False
    if fault.startswith(("skew", "drop:after")):  # ranging ran: its logs are kept
        assert (out_dir / "ranging/mlperf_log_summary.txt").is_file()
        assert (out_dir / "ranging/spl.txt").is_file() or fault.startswith("skew")
    if fault.startswith("skew"):
        assert "clock" in err


# ---------------------------------------------------------------- director, RAPL


def test_a_director_run_downloads_the_official_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "run"
    with DirectorStandIn(tmp_path / "director", watts=(100.0, 100.0)) as d:
        spec = f"director://{d.host}:{d.port}?timeout=5"
        code = main([*FIXED, "--output", str(out_dir), *SMALL, "--power", spec])
        sid = next(iter(d.sessions))
    out, err = capsys.readouterr()
    assert code == 0, out + err
    for rel in (
        "ranging/spl.txt",
        "run_1/spl.txt",
        "run_1/ptd_out.txt",
        "power/server.json",
        "power/ptd_logs.txt",
        "power/server.log",
    ):
        assert (out_dir / rel).read_bytes() == (d.session_dir(sid) / rel).read_bytes(), rel
    assert (out_dir / "power/client.json").is_file()
    assert (out_dir / "ranging/mlperf_log_summary.txt").is_file()
    doc = _json(out_dir / "power/power.json")
    assert doc["meter"]["kind"] == "director" and doc["valid"] is True
    assert doc["clock"]["source"] == "director" and doc["clock"]["checks"]
    assert doc["metric"]["avg_watts"] == pytest.approx(100.0)
    assert _spl(out_dir / "spl.txt") == _spl(out_dir / "run_1/spl.txt")


def test_rapl_without_powercap_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [f"rapl:root={tmp_path / 'no-powercap'}"]
    if not os.path.exists("/sys/class/powercap"):
        specs.append("rapl")  # this machine: no powercap at all
    for spec in specs:
        out_dir = tmp_path / "run"
        code = main(["run", "null", "--output", str(out_dir), *SMALL, "--power", spec])
        out, err = capsys.readouterr()
        assert code == 2 and err.startswith(f"error: --power {spec}: ") and err.count("\n") == 1
        assert "--power sim" in err and out == "" and not out_dir.exists()


# ---------------------------------------------------------------- power.json golden


def _synthetic_run() -> PowerRunResult:
    """A ranging + testing run from fixed samples and windows: every number is exact."""
    clock = FakeWallClock(1_700_000_000.0)
    meter = SimulatedMeter(Square(low=100.0, high=200.0, period=2.0), interval=0.5, clock=clock)
    phases = []
    for phase, shift in (("ranging", 0.0), ("testing", 20.0)):
        meter.start(f"2023-11-14_22-13-20_mlmeter_{phase}", phase)
        clock.advance(10.0)
        samples = tuple(meter.stop())
        if phase == "testing":  # 10 % less in testing: the 5 % rule must catch it
            samples = tuple(replace(s, watts=s.watts * 0.9) for s in samples)
        t0 = 1_700_000_000.0 + shift
        window = PowerWindow(t0 + 1.0, t0 + 9.0)
        stats = window_stats(samples, window, 0.5)
        unused = cast(TestResult, SimpleNamespace())  # power.json does not read the run
        mark = f"2023-11-14_22-13-20_mlmeter_{phase}"
        phases.append(PhaseResult(phase, mark, unused, samples, stats, stats.problems))
        clock.advance(10.0)
    t = phases[1].stats
    assert t is not None and t.avg_watts is not None
    metric = inference_power("SingleStream", t.avg_watts, t.window.duration_s, query_count=400)
    problems = run_mod.ranging_problems(cast(Any, phases[0].stats).avg_watts, t.avg_watts)
    info = MeterInfo("sim", "simulated (square)", "simulated", False, True, {"interval": 0.5})
    return PowerRunResult(info, 0.5, "SingleStream", tuple(phases), metric, problems)


def test_power_json_golden() -> None:
    run = _synthetic_run()
    text = json.dumps(power_document(run), indent=2) + "\n"
    text = re.sub(r'("version": )"[^"]+"', r'\1"VERSION"', text)
    check_golden("power_json.json", text)
    doc = json.loads(text)
    # by hand: readings at t0 + 1.5, 2.0, ..., 8.5 (strictly inside 1..9) average the
    # half second before them: 100, 100, 200, 200, ... -> 8 x 100 W and 7 x 200 W
    ranging = (8 * 100 + 7 * 200) / 15
    testing = 0.9 * ranging
    assert doc["phases"]["ranging"]["avg_watts"] == pytest.approx(ranging)
    assert doc["phases"]["testing"]["avg_watts"] == pytest.approx(testing)
    assert doc["phases"]["testing"]["coverage"] == pytest.approx(15 / 16)
    assert doc["ranging_vs_testing"]["delta_pct"] == -10.0
    assert doc["valid"] is False and "10.00 % below ranging" in doc["problems"][0]
    assert doc["metric"]["value"] == pytest.approx(testing * 8.0 * 1000 / 400)
    assert doc["metric"]["samples_per_joule"] == pytest.approx(1000 / (testing * 8.0 * 1000 / 400))


def test_ptd_meter_is_closed_when_identify_fails(tmp_path: Path) -> None:
    meter = PtdMeter("127.0.0.1", 9, settle_s=0.0, timeout_s=0.2)  # nothing listens on 9
    with pytest.raises(PowerError):
        run_with_power(FixedLatencySUT(2, 4), NullQSL(), _offline(), LogSettings(tmp_path), meter)
    assert not meter.client.connected


def test_the_report_shows_power_aligned_with_throughput(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlmeter.reporting import build_report, get_exporter, load_run

    assert main([*FIXED, "--output", str(tmp_path), *SMALL, "--power", SIM]) == 0
    capsys.readouterr()
    report = build_report([load_run(tmp_path)])
    power, plots = report.runs[0].power, report.runs[0].plots
    assert power is not None and plots is not None
    begin, end = _window(tmp_path)
    inside = [(t, w) for t, w, _ in _spl(tmp_path / "spl.txt") if begin < t < end and w > 0]
    # x: seconds since the test start, the throughput series' origin
    assert power.series.x == pytest.approx([t - begin for t, _ in inside], abs=1e-6)
    assert power.series.y == tuple(w for _, w in inside)
    assert 0 < power.series.x[-1] <= plots.throughput.x[-1] + 0.01
    doc = report.to_dict()["runs"][0]["power"]
    assert doc["avg_watts"] == _json(tmp_path / "results.json")["power"]["metric"]["avg_watts"]
    html = get_exporter("html").render(report)
    assert "Power over time" in html and "power (W)" in html
    assert "power_avg_watts" in get_exporter("csv").render(report)
    assert "- power: " in get_exporter("md").render(report)
