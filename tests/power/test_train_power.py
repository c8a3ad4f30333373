"""``mlmeter train --power``: energy per run, the official node logs, the official summarizer.

The simulated meter gives a known constant power, so each run's energy must be
``watts x (run_stop - run_start)`` as read from its own MLLOG log, and the official
``result_summarizer`` (which reads ``power/result_<i>/node_0.txt``) must report the same
olympic energy we print.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import pytest

from mlmeter.cli.main import main
from mlmeter.power._model import PowerSample
from mlmeter.power._training_log import covering_samples, read_node_log, write_node_log
from mlmeter.training import keys, read_mllog

TESTS = Path(__file__).resolve().parents[1]
GOLDEN = TESTS / "golden" / "power_training_node.txt"
sys.path.insert(0, str(TESTS / "training"))
from official import package_checker, result_summarizer  # noqa: E402

WATTS = 250.0
SIM = f"sim:profile=constant,watts={WATTS:g},interval=0.01"  # 100 Hz: >= 60 samples in 0.6 s


def _train(out: Path, *extra: str) -> int:
    args = ["train", "synthetic", "--output", str(out), "--system", "box", "--org", "Org"]
    return main([*args, "--seed", "3", "--no-record", *extra])


def _window_s(log: Path) -> float:
    events = read_mllog(log)
    start = next(e.time_ms for e in events if e.key == keys.RUN_START)
    stop = next(e.time_ms for e in events if e.key == keys.RUN_STOP)
    return (stop - start) / 1000


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("train-power")
    code = _train(root / "Org", "--runs", "5", "--set", "sleep_s=0.2", "--power", SIM)
    assert code == 0
    return root, (root / "Org" / "mlmeter_train.json").read_text()


def test_energy_per_run_is_watts_times_duration(trained: tuple[Path, str]) -> None:
    root, text = trained
    power = json.loads(text)["power"]
    assert power["meter"]["kind"] == "sim" and power["valid_for_closed"] is False
    assert len(power["runs"]) == 5
    for run in power["runs"]:
        expected = WATTS * _window_s(Path(run["log"]))
        assert run["energy_j"] == pytest.approx(expected, rel=0.01)
        assert run["samples"] >= 60 and run["rate_hz"] >= 1 and run["problems"] == []
        node = read_node_log(run["node_log"])
        assert Path(run["node_log"]).relative_to(root / "Org" / "results" / "box" / "resnet")
        assert node.readings and all(r.watts == WATTS for r in node.readings)


def test_olympic_energy_uses_the_runs_the_time_score_kept(trained: tuple[Path, str]) -> None:
    _, text = trained
    summary = json.loads(text)
    times = [r["time_to_train_s"] for r in summary["runs"]]
    order = sorted(range(5), key=lambda k: times[k])
    kept = sorted(order[1:4])  # fastest and slowest dropped
    assert summary["power"]["kept_runs"] == kept
    energies = [summary["power"]["runs"][k]["energy_j"] for k in kept]
    assert summary["power"]["olympic_energy_j"] == pytest.approx(sum(energies) / 3, rel=1e-12)


def test_official_tools_accept_the_power_logs_and_agree(trained: tuple[Path, str]) -> None:
    root, text = trained
    checked = package_checker(root, "Org", "4.0.0")
    assert "PACKAGE CHECKER FOUND NO ERRORS, SUCCESS" in checked.last_line, checked.text[-2000:]
    assert "does not contain power result" not in checked.text
    summarized = result_summarizer(root, "Org", "4.0.0")
    assert summarized.returncode == 0, summarized.text[-2000:]
    with (root / "summary_detailed.csv").open(newline="") as fh:
        row = next(csv.DictReader(fh))
    ours = json.loads(text)["power"]["olympic_energy_j"]
    assert float(row["resnet:Energy"]) == pytest.approx(ours, rel=1e-6)


def test_a_misnamed_node_log_fails_the_official_checker(
    trained: tuple[Path, str], tmp_path: Path
) -> None:
    root, _ = trained
    copy = tmp_path / "Org"
    shutil.copytree(root / "Org", copy)
    node = copy / "results" / "box" / "resnet" / "power" / "result_1" / "node_0.txt"
    node.rename(node.with_name("node_3.txt"))
    node = copy / "results" / "box" / "resnet" / "power" / "result_2" / "node_0.txt"
    node.rename(node.with_name("node_3.txt"))
    checked = package_checker(tmp_path, "Org", "4.0.0")
    assert "Bad naming of node power files" in checked.text, checked.text[-2000:]
    assert "SUCCESS" not in checked.last_line


def test_a_run_with_too_few_samples_is_a_reported_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = f"sim:profile=constant,watts={WATTS:g},interval=0.1"  # 10 Hz over < 1 s
    assert _train(tmp_path, "--runs", "1", "--power", slow) == 0
    out = capsys.readouterr().out
    run = json.loads((tmp_path / "mlmeter_train.json").read_text())["power"]["runs"][0]
    assert run["samples"] < 60
    assert any(f"only {run['samples']} power samples" in p for p in run["problems"])
    assert f"power problem: only {run['samples']} power samples" in out


def test_an_unknown_meter_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, "--runs", "1", "--power", "bogus") == 2
    assert "unknown power meter 'bogus'" in capsys.readouterr().err


def _samples() -> list[PowerSample]:
    t0 = 1_700_000_000.0
    return [PowerSample(t0 + 0.5 * k, 100.0 + k, 230.0, None, None, "m") for k in range(-1, 6)]


def test_covering_samples_run_to_the_first_after_the_stop() -> None:
    start_ms, stop_ms = 1_700_000_000_000, 1_700_000_001_800
    kept = covering_samples(_samples(), start_ms, stop_ms)
    assert [round(s.t_utc * 1000) - start_ms for s in kept] == [500, 1000, 1500, 2000]


def test_node_log_matches_the_golden_file_and_reads_back(tmp_path: Path) -> None:
    path = write_node_log(tmp_path / "node_0.txt", _samples(), 1_700_000_000_000, 1_700_000_001_800)
    assert path.read_text() == GOLDEN.read_text()
    log = read_node_log(path)
    assert (log.start_ms, log.stop_ms) == (1_700_000_000_000, 1_700_000_002_000)
    assert [r.watts for r in log.readings] == [101.0, 102.0, 103.0, 104.0]
