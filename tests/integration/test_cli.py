"""``mlmeter run``: exit codes agree with the verdict, user errors are one line.

The CLI's contract (``mlmeter.cli``, errors.py): exit 0 for a VALID performance run
(or a finished accuracy run), 1 for INVALID, the ``UserError`` exit code 2 for bad
input with a single ``error: ...`` line on stderr that names the fix.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlmeter.cli.main import main

_SCENARIOS = ["SingleStream", "MultiStream", "Server", "Offline"]
_SMALL = ["--set", "min_duration=300", "--set", "min_query_count=10", "--quiet"]


def _results(outdir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((outdir / "results.json").read_text())
    return doc


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("scenario", _SCENARIOS)
def test_run_null_exit_code_matches_validity(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        ["run", "null", "--scenario", scenario, "--output", str(tmp_path), *_SMALL], capsys
    )
    doc = _results(tmp_path)
    valid = doc["validity"]["valid"]
    assert code == (0 if valid else 1), out + err
    assert ("result               : VALID" in out) == valid
    assert doc["effective"]["scenario"] == scenario
    assert doc["effective"]["min_duration_ms"] == 300  # --set min_duration is in ms
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert f"Result is : {'VALID' if valid else 'INVALID'}" in summary
    if not valid:
        assert "INVALID because" in out  # the report names the failed rule
    assert err == ""


@pytest.mark.parametrize("scenario", _SCENARIOS)
def test_run_fixed_exit_code_matches_validity(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "fixed", "--service-ms", "2", "--workers", "4", "--scenario", scenario]
    code, out, err = _run([*args, "--output", str(tmp_path), *_SMALL], capsys)
    doc = _results(tmp_path)
    validity = doc["validity"]
    assert code == (0 if validity["valid"] else 1), out + err
    result = doc["result"]
    if scenario == "Offline":
        # expected QPS defaults to the capacity, 4 / 2 ms = 2000/s; the query holds
        # 1.1 x 0.3 s x 2000 samples and cannot finish faster than 2000/s allows.
        assert doc["effective"]["target_qps"] == pytest.approx(2000.0)
        assert result["sample_count"] == 660
        assert validity["min_duration_met"] is True
    if scenario == "MultiStream":
        # Early stopping at p99 needs 662 queries (§4); at >= 4 ms per 8-sample query
        # (two rounds of 4 workers) 300 ms allows under 100 of them.
        assert result["query_count"] < 662
        assert validity["early_stopping_met"] is False and code == 1
    if scenario == "Server":
        # half the capacity: 1000 qps, so about 300 queries in 300 ms
        assert doc["effective"]["target_qps"] == pytest.approx(1000.0)


def test_misspelled_setting_is_a_one_line_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        ["run", "null", "--set", "min_duraton=5", "--output", str(tmp_path), "--quiet"], capsys
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ") and "'min_duraton'" in lines[0]
    assert "did you mean 'min_duration'" in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "results.json").exists()  # nothing ran


def test_bad_setting_value_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        ["run", "null", "--set", "min_duration=-5", "--output", str(tmp_path), "--quiet"], capsys
    )
    assert code == 2
    assert err.startswith("error: --set min_duration=-5: ") and err.count("\n") == 1


def _search(q0: float, passed: list[bool]) -> list[float]:
    """§3's find-peak rungs (step 1: double; whole-QPS precision) given which passed."""
    seq, lo, hi = [q0], q0, 2 * q0
    if not passed[0]:
        return seq
    while True:
        seq.append(hi)
        if not passed[len(seq) - 1]:
            break
        lo, hi = hi, 2 * hi
    while math.floor(lo) + 1 < math.floor(hi):
        mid = (lo + hi) / 2
        seq.append(mid)
        lo, hi = (mid, hi) if passed[len(seq) - 1] else (lo, mid)
    return seq


def test_find_peak_in_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # One 2.5 ms worker: capacity 400 qps; the fixed workload starts at half of it.
    # Short rungs and whole-QPS precision keep the search under a second.
    args = ["run", "fixed", "--service-ms", "2.5", "--workers", "1", "--scenario", "Server"]
    args += ["--mode", "find-peak", "--set", "min_duration=50", "--set", "min_query_count=10"]
    args += ["--set", "target_latency=20", "--set", "server_find_peak_qps_decimals_of_precision=0"]
    code, out, _ = _run([*args, "--output", str(tmp_path), "--quiet"], capsys)

    rungs = [_results(d) for d in sorted((tmp_path / "find_peak").iterdir())]
    qps = [r["effective"]["target_qps"] for r in rungs]
    passed = [r["validity"]["perf_constraints_met"] for r in rungs]
    assert qps == pytest.approx(_search(200.0, passed))
    # The highest passing rung is the answer; its logs are promoted to --output.
    doc = _results(tmp_path)
    best = max((q for q, ok in zip(qps, passed, strict=True) if ok), default=qps[0])
    assert doc["effective"]["target_qps"] == pytest.approx(best)
    assert code == (0 if doc["validity"]["valid"] else 1), out


def test_find_peak_outside_server_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        ["run", "null", "--scenario", "Offline", "--mode", "find-peak", "--output", str(tmp_path)],
        capsys,
    )
    assert code == 2
    assert err.strip() == "error: find-peak mode is only supported in Server: use --scenario Server"


def test_user_conf_is_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "user.conf"
    conf.write_text(
        "# user.conf for the null workload\n"
        "*.Offline.target_qps = 2000000\n"
        "null.*.min_duration = 200\n"
        "null.Offline.min_query_count = 7\n"
    )
    out_dir = tmp_path / "out"
    code, out, _ = _run(
        ["run", "null", "--scenario", "Offline", "--conf", str(conf), "--output", str(out_dir)],
        capsys,
    )
    doc = _results(out_dir)
    requested = doc["requested"]
    assert requested["offline_expected_qps"] == 2_000_000.0
    assert requested["min_duration_ms"] == 200
    assert requested["min_query_count"] == 7
    # Offline: samples_per_query = max(min_query_count, floor(1.1 x 0.2 s x 2e6)) (§1)
    assert doc["effective"]["samples_per_query"] == 440_000
    assert code == (0 if doc["validity"]["valid"] else 1), out


def test_user_conf_typo_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "user.conf"
    conf.write_text("*.Offline.target_qps = 2000\n*.Offline.min_duraton = 200\n")
    code, _, err = _run(
        ["run", "fixed", "--conf", str(conf), "--output", str(tmp_path / "out")], capsys
    )
    assert code == 2
    assert err.startswith(f"error: {conf}:2: ") and "did you mean 'min_duration'" in err
    assert not (tmp_path / "out").exists()


def test_accuracy_mode_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "fixed", "--service-ms", "1", "--workers", "4", "--mode", "accuracy"]
    code, out, _ = _run([*args, "--samples", "100", "--output", str(tmp_path)], capsys)
    assert code == 0
    assert "accuracy log entries : 100" in out
    entries = json.loads((tmp_path / "mlperf_log_accuracy.json").read_text())
    assert sorted(e["qsl_idx"] for e in entries) == list(range(100))
    assert _results(tmp_path)["result"] is None


def test_console_entry_point_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("mlmeter")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mlmeter"]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    args = ["run", "null", "--scenario", "Server", "--output", str(tmp_path), *_SMALL]
    proc = subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    doc = _results(tmp_path)
    assert proc.returncode == (0 if doc["validity"]["valid"] else 1), proc.stderr
    assert "mlmeter Server / PerformanceOnly" in proc.stdout
    bad = subprocess.run(
        [*cmd, "run", "null", "--set", "min_duraton=5"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1


def test_audit_config_is_applied_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The compliance seam: a TEST04-style audit.config makes every query the same sample."""
    audit = tmp_path / "audit.config"
    audit.write_text("*.*.performance_issue_same = 1\n*.*.performance_issue_same_index = 3\n")
    out_dir = tmp_path / "out"
    args = ["run", "null", "--scenario", "SingleStream", "--audit-config", str(audit)]
    _run([*args, "--set", "performance_issue_same=0", "--output", str(out_dir), *_SMALL], capsys)
    doc = _results(out_dir)
    assert doc["effective"]["performance_issue_same"] is True  # beats --set: applied last
    assert doc["effective"]["performance_issue_same_index"] == 3
