"""results.json: versioned, refuses newer files, migrates older ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlmeter.errors import UserError
from mlmeter.logfmt import (
    RESULTS_FORMAT,
    RESULTS_VERSION,
    Check,
    EarlyStoppingReport,
    LatencyStats,
    PerformanceResult,
    RunProblems,
    _results_json,
    read_results_json,
    write_results_json,
)
from mlmeter.settings import Scenario, TestMode, TestSettings, derive


def _write(path: Path, *, result: PerformanceResult | None) -> dict[str, object]:
    requested = TestSettings(scenario=Scenario.OFFLINE)
    return write_results_json(
        path,
        requested=requested,
        effective=derive(requested, 10, 10),
        result=result,
        problems=RunProblems(errors=("boom",)),
        system={"cpus": 2},
        provenance={"seed": 1},
    )


def _result(*checks: Check, valid: bool = True) -> PerformanceResult:
    lat = LatencyStats(1, 5, 5, 5.0, {0.5: 5, 0.99: 5})
    return PerformanceResult(
        scenario="Offline",
        mode="PerformanceOnly",
        sut_name="s",
        valid=valid,
        checks=checks,
        early_stopping=EarlyStoppingReport(met=True, lines=()),
        query_count=1,
        sample_count=10,
        sample_latency=lat,
        query_latency=None,
        samples_per_second=float("inf"),
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    written = _write(path, result=_result(Check("min_duration", True, "ok")))
    doc = read_results_json(path)
    assert doc == written
    assert doc["format"] == RESULTS_FORMAT and doc["version"] == RESULTS_VERSION
    assert doc["result"]["samples_per_second"] is None  # non-finite -> null, strict JSON
    assert doc["result"]["sample_latency"]["percentiles"] == {"0.5": 5, "0.99": 5}
    assert doc["effective"]["scenario"] == "Offline"
    assert doc["problems"]["errors"] == ["boom"]
    assert doc["system"] == {"cpus": 2} and doc["provenance"] == {"seed": 1}


def test_every_failed_rule_is_listed(tmp_path: Path) -> None:
    checks = (Check("min_duration", False, "ran 5 ms < 10 ms"), Check("min_queries", True, "ok"))
    doc = _write(tmp_path / "r.json", result=_result(*checks, valid=False))
    validity = doc["validity"]
    assert isinstance(validity, dict)
    assert validity["valid"] is False
    assert validity["failed_rules"] == [{"code": "min_duration", "message": "ran 5 ms < 10 ms"}]


def test_accuracy_mode_has_no_result(tmp_path: Path) -> None:
    doc = _write(tmp_path / "r.json", result=None)
    assert doc["result"] is None and doc["validity"] is None


def _tamper(path: Path, **changes: object) -> None:
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


def test_refuses_a_newer_version_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    _write(path, result=None)
    _tamper(path, version=RESULTS_VERSION + 1)
    with pytest.raises(UserError) as info:
        read_results_json(path)
    message = str(info.value)
    assert "upgrade mlmeter" in message and "\n" not in message
    assert str(path) in message


@pytest.mark.parametrize("version", [0, "1", True, None])
def test_refuses_an_invalid_version(tmp_path: Path, version: object) -> None:
    path = tmp_path / "results.json"
    _write(path, result=None)
    _tamper(path, version=version)
    with pytest.raises(UserError, match="version"):
        read_results_json(path)


def test_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"format": "something.else", "version": 1}')
    with pytest.raises(UserError, match="not an mlmeter results file"):
        read_results_json(path)
    path.write_text("not json")
    with pytest.raises(UserError, match="not a JSON results file"):
        read_results_json(path)


def test_older_versions_are_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.json"
    _write(path, result=None)

    def one_to_two(doc: dict[str, object]) -> dict[str, object]:
        return {**doc, "version": 2, "migrated": True}

    monkeypatch.setattr(_results_json, "RESULTS_VERSION", 2)
    monkeypatch.setitem(_results_json._MIGRATIONS, 1, one_to_two)
    doc = read_results_json(path)
    assert doc["version"] == 2 and doc["migrated"] is True


def test_there_is_a_migration_for_every_older_version() -> None:
    assert set(_results_json._MIGRATIONS) == set(range(1, RESULTS_VERSION))


def test_requested_settings_are_complete(tmp_path: Path) -> None:
    doc = _write(tmp_path / "r.json", result=None)
    requested = doc["requested"]
    assert isinstance(requested, dict)
    assert requested["mode"] == TestMode.PERFORMANCE_ONLY.value
    assert set(requested) == set(TestSettings().as_dict())
