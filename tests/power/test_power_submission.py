"""Power in submissions: packaged files in the official layout, and the power.* checks.

A real ``mlmeter run --power sim`` and ``mlmeter train --power sim`` are packaged; the tree
passes; each corruption fails with its own ``power.*`` finding.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mlmeter.cli.main import main
from mlmeter.power._spl import read_spl, write_spl
from mlmeter.power._window import window_from_detail
from mlmeter.submission._check import check_tree
from mlmeter.submission._package import package

ORG, SYSTEM = "MyOrg", "box"
SHORT = ["--set", "min_duration=1000", "--set", "min_query_count=32", "--quiet", "--no-record"]
SCEN = Path("open", ORG, "results", SYSTEM, "resnet50", "Offline", "performance")
TRAIN = Path("training", ORG, "results", SYSTEM, "resnet")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    base = tmp_path_factory.mktemp("runs")
    ic = ["run", "image-classification", "--scenario", "Offline", *SHORT]
    assert main([*ic, "--power", "sim:interval=0.01", "--output", str(base / "perf")]) == 0
    assert main([*ic, "--mode", "accuracy", "--output", str(base / "acc")]) == 0
    train = ["train", "synthetic", "--runs", "5", "--seed", "10", "--org", ORG, "--no-record"]
    sim = "sim:profile=constant,watts=200,interval=0.01"
    train += ["--system", SYSTEM, "--set", "sleep_s=0.2", "--power", sim]
    assert main([*train, "--output", str(base / "train")]) == 0
    return {k: base / k for k in ("perf", "acc", "train")}


def _package(runs: dict[str, Path], out: Path, division: str = "open") -> Path:
    package(list(runs.values()), out, org=ORG, division=division, system=SYSTEM)
    return out


@pytest.fixture(scope="module")
def tree(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _package(runs, tmp_path_factory.mktemp("sub") / "tree")


def _codes(root: Path) -> dict[str, str]:
    return {f.code: f.message for f in check_tree(root) if f.code.startswith("power.")}


def _errors(root: Path) -> set[str]:
    return {f.code for f in check_tree(root) if f.severity == "error"}


def _copy(tree: Path, tmp_path: Path) -> Path:
    shutil.copytree(tree, tmp_path / "t")
    return tmp_path / "t"


def test_layout_and_the_tree_passes(tree: Path) -> None:
    perf = tree / SCEN
    for rel in ("run_1/spl.txt", "run_1/mlperf_log_detail.txt", "power/power.json"):
        assert (perf / rel).is_file(), rel
    for i in range(5):
        assert (tree / TRAIN / "power" / f"result_{i}" / "node_0.txt").is_file()
    assert not _errors(tree)
    assert set(_codes(tree)) == {"power.software_meter"}  # a note in the open division


def test_samples_removed_from_the_window(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    run = root / SCEN / "run_1"
    window = window_from_detail(run / "mlperf_log_detail.txt")
    mid = (window.begin_utc + window.end_utc) / 2
    kept = [s for s in read_spl(run / "spl.txt") if not window.begin_utc < s.t_utc < mid]
    write_spl(run / "spl.txt", kept)
    assert "coverage" in _codes(root)["power.window_samples"]


def test_clock_offset_of_one_second(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    path = root / SCEN / "power" / "power.json"
    doc = json.loads(path.read_text())
    doc["clock"] = {"source": "ptd", "estimate_ms": 1000.0}
    path.write_text(json.dumps(doc))
    assert "+1000 ms" in _codes(root)["power.clock_offset"]


def test_client_server_phase_stamps_one_second_apart(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    power = root / SCEN / "power"
    stamps = [[1_700_000_000.0 + k, 10.0 + k] for k in range(4)]
    (power / "client.json").write_text(json.dumps({"phases": {"testing": stamps}}))
    late = [[t + 1.0, m] for t, m in stamps]
    (power / "server.json").write_text(json.dumps({"phases": {"testing": late}}))
    assert "1000 ms" in _codes(root)["power.clock_offset"]


def test_testing_ten_percent_below_ranging(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    perf = root / SCEN
    shutil.copytree(perf / "run_1", perf / "ranging")
    ranging = read_spl(perf / "ranging" / "spl.txt")
    write_spl(
        perf / "run_1" / "spl.txt",
        [s.__class__(**{**vars(s), "watts": s.watts * 0.9}) for s in ranging],
    )
    message = _codes(root)["power.ranging_vs_testing"]
    assert "10.00 % below ranging" in message


def test_software_meter_in_closed(runs: dict[str, Path], tmp_path: Path) -> None:
    inference = {k: v for k, v in runs.items() if k != "train"}
    root = _package(inference, tmp_path / "closed", division="closed")
    found = [f for f in check_tree(root) if f.code == "power.software_meter"]
    assert found and found[0].severity == "error" and "(sim" in found[0].message


def test_missing_spl(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    (root / SCEN / "run_1" / "spl.txt").unlink()
    assert "no spl.txt" in _codes(root)["power.missing_file"]


def test_missing_ranging_for_an_analyzer(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    path = root / SCEN / "power" / "power.json"
    doc = json.loads(path.read_text())
    doc["meter"] |= {"kind": "ptd", "needs_ranging": True, "valid_for_closed": True}
    path.write_text(json.dumps(doc))
    assert "ranging/spl.txt" in _codes(root)["power.missing_file"]


def test_training_run_with_30_samples(tree: Path, tmp_path: Path) -> None:
    root = _copy(tree, tmp_path)
    node = root / TRAIN / "power" / "result_2" / "node_0.txt"
    lines = node.read_text().splitlines(keepends=True)
    readings = [ln for ln in lines if '"power_reading"' in ln]
    others = [ln for ln in lines if ln not in readings]
    node.write_text("".join(others[:2] + readings[:30] + others[2:]))
    assert "only 30 power samples" in _codes(root)["power.training_rate"]
