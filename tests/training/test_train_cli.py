"""``mlmeter train``: the submission tree, the score, and the official tools agree with it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from official import package_checker, result_summarizer

from mlmeter.cli.main import main
from mlmeter.system import STATUS_PHRASES
from mlmeter.training import keys, read_mllog
from mlmeter.training._reference import load_reference
from mlmeter.training._results import score_logs
from mlmeter.training._synthetic import SyntheticTraining


def _train(out: Path, *extra: str) -> int:
    return main(["train", "synthetic", "--output", str(out), "--system", "box", *extra])


def _summary(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "mlmeter_train.json").read_text())
    return data


def test_tree_score_and_official_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    org = tmp_path / "MyOrg"
    assert _train(org, "--runs", "5", "--seed", "10", "--org", "MyOrg") == 0
    printed = capsys.readouterr().out
    logs = sorted((org / "results" / "box" / "resnet").glob("result_*.txt"))
    assert [p.name for p in logs] == [f"result_{i}.txt" for i in range(5)]
    seeds = [next(e.value for e in read_mllog(p) if e.key == keys.SEED) for p in logs]
    assert seeds == [10, 11, 12, 13, 14]
    system = json.loads((org / "systems" / "box.json").read_text())
    assert system["status"] == STATUS_PHRASES["onprem"] and system["submitter"] == "MyOrg"
    ours = _summary(org)["score"]
    assert isinstance(ours, dict) and ours["valid"] is True
    assert f"olympic score: {ours['olympic_minutes']:.6g} min" in printed
    checked = package_checker(tmp_path, "MyOrg", "4.0.0")
    assert "PACKAGE CHECKER FOUND NO ERRORS, SUCCESS" in checked.last_line, checked.text[-2000:]
    summarized = result_summarizer(tmp_path, "MyOrg", "4.0.0")
    assert summarized.returncode == 0, summarized.text[-2000:]
    with (tmp_path / "summary.csv").open(newline="") as fh:  # its JSON rounds to 10 places
        rows = list(csv.DictReader(fh))
    assert float(rows[0]["resnet"]) == pytest.approx(ours["olympic_minutes"], rel=1e-12)


def test_one_diverged_run_is_tolerated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _train(
        tmp_path, "--runs", "5", "--seed", "20", "--set", "nan_at=1", "--set", "nan_seed=22"
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "run 3/5 seed 22: ABORTED" in out and "training diverged: loss is nan" in out
    score = _summary(tmp_path)["score"]
    assert isinstance(score, dict) and score["failed_runs"] == 1 and score["valid"] is True
    assert len(score["used_minutes"]) == 3


def test_two_failures_make_the_score_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, "--runs", "5", "--seed", "1", "--set", "nan_at=1") == 3
    assert "olympic score: INVALID: failed runs: 5 of 5" in capsys.readouterr().out


def test_existing_logs_are_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path, "--runs", "1", "--seed", "1") == 0
    before = (tmp_path / "results" / "box" / "resnet" / "result_0.txt").read_bytes()
    assert _train(tmp_path, "--runs", "1", "--seed", "2") == 2
    assert "choose another --output" in capsys.readouterr().err
    assert (tmp_path / "results" / "box" / "resnet" / "result_0.txt").read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--config", "huge"], "--config 'huge' is not a synthetic config"),
        (["--runs", "0"], "--runs must be >= 1"),
        (["--time-limit", "-1"], "--time-limit must be > 0"),
        (["--set", "novalue"], "use --set KEY=VALUE"),
        (["--nnodes", "2"], "--master-port is required"),
        (["--device", "gpu"], "use cpu, cuda or cuda:N"),
    ],
)
def test_bad_flags_get_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert _train(tmp_path, *argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "nope"]) == 2
    assert "unknown training workload 'nope'" in capsys.readouterr().err


def test_rcp_round_trip_agrees_with_official_rcp_checker(tmp_path: Path) -> None:
    pytest.importorskip("mlperf_logging")
    from mlperf_logging.rcp_checker import rcp_checker

    ref_file = tmp_path / "rcps.json"
    assert _train(tmp_path / "ref", "--runs", "5", "--seed", "100", "--rcp-out", str(ref_file)) == 0
    reference = load_reference(ref_file, "resnet")
    assert list(reference) == [64] and len(reference[64]) == 5
    record = json.loads(ref_file.read_text())["resnet_ref_64"]
    assert record["Hyperparams"]["seeds"] == [100, 101, 102, 103, 104]
    assert _train(tmp_path / "sub", "--runs", "5", "--seed", "200") == 0
    bench = tmp_path / "sub" / "results" / "box" / "resnet"
    logs = sorted(bench.glob("result_*.txt"))
    slow = {64: [v * 3 for v in reference[64]]}  # a reference three times slower
    (tmp_path / "slow.json").write_text(
        json.dumps({"resnet_ref_64": {**record, "Epochs to converge": slow[64]}})
    )
    for ref, path in ((reference, ref_file), (slow, tmp_path / "slow.json")):
        ours = score_logs(logs, SyntheticTraining.spec, ref).rcp
        assert ours is not None
        with path.open() as fh:
            passed, _, _ = rcp_checker.check_directory(
                str(bench), "training", "4.0.0", False, False, rcp_file=fh, rcp_pass="pruned_rcps"
            )
        assert passed == ours.accepted
    assert score_logs(logs, SyntheticTraining.spec, slow).rcp.accepted is False  # type: ignore[union-attr]


def test_list_shows_training_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    section = out.split("training workloads (mlmeter train):", 1)[1]
    row = next(line for line in section.splitlines() if line.startswith("synthetic "))
    assert row.split()[:5] == ["synthetic", "default", "resnet", "4.0.0", ">="]


def test_too_few_runs_skip_the_convergence_check(tmp_path: Path) -> None:
    assert _train(tmp_path, "--runs", "2", "--seed", "7") == 0
    logs = sorted((tmp_path / "results" / "box" / "resnet").glob("result_*.txt"))
    result = score_logs(logs, SyntheticTraining.spec, {64: [4.0, 5.0, 6.0, 5.0, 5.0]})
    assert result.rcp is None and result.rcp_skipped == "needs more than 2 runs"
    assert not result.score.valid and "2 runs given" in result.score.message
