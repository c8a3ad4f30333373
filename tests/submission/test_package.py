"""``mlmeter submission package`` on real ``mlmeter run`` and ``mlmeter train`` output.

The runs are made once per module (about 15 s on one core): a performance run, an accuracy
run and a TEST04 audit run of image-classification Offline, and five synthetic training
runs. The training part of the tree goes through the official ``mlperf_logging`` tools.
Goldens: ``UPDATE_GOLDEN=1 pytest tests/submission/test_package.py`` and review the diff.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _golden import check_golden
from mlmeter.cli import submission as submission_cmd
from mlmeter.cli.main import main
from mlmeter.errors import MlmeterError, UsageError
from mlmeter.settings import Scenario, TestSettings, apply_conf, parse_conf
from mlmeter.submission._accuracy_txt import (
    MAX_ACCURACY_LOG_SIZE,
    VIEWABLE_SIZE,
    accuracy_txt,
    truncate_accuracy_log,
)
from mlmeter.submission._package import package

SYSTEM = "box"
ORG = "MyOrg"
SHORT = ["--set", "min_duration=500", "--set", "min_query_count=32", "--quiet"]
TEST04 = "*.*.performance_issue_same = 1\n*.*.performance_issue_same_index = 3\n"
TEST04 += "*.*.performance_issue_unique = 0\n"
SCEN = Path("open", ORG, "results", SYSTEM, "resnet50", "Offline")


def _official() -> ModuleType:
    """tests/training/official.py: runs the official mlperf_logging tools."""
    path = Path(__file__).resolve().parents[1] / "training" / "official.py"
    spec = importlib.util.spec_from_file_location("mlmeter_tests_official", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real run folders: perf, acc, audit (TEST04) and train (an org folder)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    base = tmp_path_factory.mktemp("runs")
    (base / "audit.config").write_text(TEST04)
    ic = ["run", "image-classification", "--scenario", "Offline", *SHORT]
    assert main([*ic, "--output", str(base / "perf")]) == 0
    assert main([*ic, "--mode", "accuracy", "--output", str(base / "acc")]) == 0
    main([*ic, "--audit-config", str(base / "audit.config"), "--output", str(base / "audit")])
    train = ["train", "synthetic", "--runs", "5", "--seed", "10", "--org", ORG]
    assert main([*train, "--system", SYSTEM, "--output", str(base / "train")]) == 0
    return {k: base / k for k in ("perf", "acc", "audit", "train")}


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tree(runs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    before = {k: _snapshot(v) for k, v in runs.items()}
    out = tmp_path_factory.mktemp("sub") / "tree"
    result = package(list(runs.values()), out, org=ORG, division="open", system=SYSTEM)
    assert result.root == out and {i.mode for i in result.items} >= {"TEST04", "training"}
    assert {k: _snapshot(v) for k, v in runs.items()} == before  # sources untouched
    return out


def test_inference_layout(tree: Path) -> None:
    scen = tree / SCEN
    for rel in (
        "performance/run_1/mlperf_log_summary.txt",
        "performance/run_1/mlperf_log_detail.txt",
        "accuracy/mlperf_log_summary.txt",
        "accuracy/mlperf_log_detail.txt",
        "accuracy/mlperf_log_accuracy.json",
        "accuracy/accuracy.txt",
        "measurements.json",
        "user.conf",
        "README.md",
    ):
        assert (scen / rel).is_file(), rel
    audit = tree / "open" / ORG / "compliance" / SYSTEM / "resnet50" / "Offline" / "TEST04"
    assert (audit / "performance" / "run_1" / "mlperf_log_detail.txt").is_file()
    assert (tree / "open" / ORG / "systems" / f"{SYSTEM}.json").is_file()
    assert (tree / "open" / ORG / "code" / "README.md").is_file()


def test_logs_are_copied_and_hash_covers_the_full_log(tree: Path, runs: dict[str, Path]) -> None:
    scen = tree / SCEN
    for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt"):
        assert (scen / "performance/run_1" / name).read_bytes() == (
            runs["perf"] / name
        ).read_bytes()
    full = (runs["acc"] / "mlperf_log_accuracy.json").read_bytes()
    text = (scen / "accuracy" / "accuracy.txt").read_text()
    assert re.findall(r"^hash=(\w+)$", text, re.M) == [hashlib.sha256(full).hexdigest()]
    assert text.splitlines()[:-1] == [
        ln for ln in (runs["acc"] / "accuracy.txt").read_text().splitlines() if "hash=" not in ln
    ]
    packed = (scen / "accuracy" / "mlperf_log_accuracy.json").read_bytes()
    assert packed == (full if len(full) < MAX_ACCURACY_LOG_SIZE else truncate_accuracy_log(full))


def test_manifest_lists_every_file_with_its_hash(tree: Path, runs: dict[str, Path]) -> None:
    doc = json.loads((tree / "mlmeter_submission.json").read_text())
    assert (doc["format"], doc["version"], doc["org"], doc["division"]) == (
        "mlmeter.submission",
        1,
        ORG,
        "open",
    )
    written = _snapshot(tree)
    del written["mlmeter_submission.json"]
    assert doc["files"] == written
    assert {Path(s["path"]) for s in doc["sources"]} == {p.resolve() for p in runs.values()}
    for src in doc["sources"]:
        for rel, digest in src["files"].items():
            assert hashlib.sha256((Path(src["path"]) / rel).read_bytes()).hexdigest() == digest


def test_user_conf_reproduces_the_run_settings(tree: Path, runs: dict[str, Path]) -> None:
    requested = json.loads((runs["perf"] / "results.json").read_text())["requested"]
    lines = parse_conf((tree / SCEN / "user.conf").read_text(), source="user")
    got = apply_conf(TestSettings(), lines, "resnet50", Scenario.OFFLINE, source="user").as_dict()
    for field in ("offline_expected_qps", "min_duration_ms", "min_query_count"):
        assert got[field] == requested[field], field


def test_official_package_checker_and_summarizer(tree: Path) -> None:
    official = _official()
    root = tree / "training"
    ruleset = json.loads((tree / "mlmeter_submission.json").read_text())["sources"]
    ruleset = next(s["ruleset"] for s in ruleset if s["kind"] == "training")
    checked = official.package_checker(root, ORG, ruleset)
    assert "PACKAGE CHECKER FOUND NO ERRORS, SUCCESS" in checked.last_line, checked.text[-2000:]
    summarized = official.result_summarizer(root, ORG, ruleset)
    assert summarized.returncode == 0, summarized.text[-2000:]
    with (root / "summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and rows[0]["system"] == SYSTEM and float(rows[0]["resnet"]) > 0


# ------------------------------------------------------------------ goldens


_MACHINE = {
    "host_processor_model_name", "host_processor_core_count", "host_processor_vcpu_count",
    "host_memory_capacity", "operating_system", "framework", "other_software_stack",
    "accelerator_model_name", "accelerators_per_node",
}  # fmt: skip


def _normalised(doc: dict[str, Any]) -> str:
    return json.dumps({k: ("<machine>" if k in _MACHINE else v) for k, v in doc.items()}, indent=2)


def test_golden_documents(tree: Path) -> None:
    check_golden("submission_measurements.json", (tree / SCEN / "measurements.json").read_text())
    inference = json.loads((tree / "open" / ORG / "systems" / f"{SYSTEM}.json").read_text())
    check_golden("submission_system_inference.json", _normalised(inference) + "\n")
    training = json.loads((tree / "training" / ORG / "systems" / f"{SYSTEM}.json").read_text())
    check_golden("submission_system_training.json", _normalised(training) + "\n")


def test_golden_manifest(tree: Path) -> None:
    doc = json.loads((tree / "mlmeter_submission.json").read_text())
    doc["created_utc"] = "<utc>"
    doc["mlmeter_version"] = "<version>"
    doc["files"] = dict.fromkeys(doc["files"], "<sha256>")
    for src in doc["sources"]:
        src["path"] = Path(src["path"]).name
        src["files"] = dict.fromkeys(src["files"], "<sha256>")
        if src.get("audit"):  # the audit run's verdict depends on the machine's load
            src["valid"] = "<verdict>"
    doc["sources"].sort(key=lambda s: s["path"])
    check_golden("submission_manifest.json", json.dumps(doc, indent=2) + "\n")


# ------------------------------------------------------------------ truncation, as officially


def _official_way(path: Path) -> bytes:
    """What truncate_accuracy_log.py does to a file: text-mode head, byte seek, tail."""
    size = path.stat().st_size
    with path.open("r") as src:
        start = src.read(VIEWABLE_SIZE)
        src.seek(size - VIEWABLE_SIZE, 0)
        end = src.read(VIEWABLE_SIZE)
    return (start + "\n\n...\n\n" + end).encode()


def _log(n: int) -> bytes:
    """A LoadGen-shaped accuracy log of about ``n`` bytes."""
    rows = [
        f'{{ "seq_id" : {i}, "qsl_idx" : {i % 97}, "data" : "{i * 2654435761 % 2**32:08X}" }}'
        for i in range(n // 40 + 1)
    ]
    return ("[\n" + ",\n".join(rows) + "\n]\n").encode()[:n]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=MAX_ACCURACY_LOG_SIZE, max_value=200_000))
def test_truncation_matches_the_official_tool(tmp_path_factory: Any, size: int) -> None:
    data = _log(size)
    path = tmp_path_factory.mktemp("acc") / "mlperf_log_accuracy.json"
    path.write_bytes(data)
    out = truncate_accuracy_log(data)
    assert out == _official_way(path)
    assert out[:VIEWABLE_SIZE] == data[:VIEWABLE_SIZE] and out.endswith(data[-VIEWABLE_SIZE:])
    assert len(out) == 2 * VIEWABLE_SIZE + len(b"\n\n...\n\n") < MAX_ACCURACY_LOG_SIZE


def test_small_logs_are_kept_as_the_official_tool_keeps_them() -> None:
    for size in (0, 100, MAX_ACCURACY_LOG_SIZE - 1):
        assert truncate_accuracy_log(_log(size)) == _log(size)
    assert truncate_accuracy_log(truncate_accuracy_log(_log(50_000))) == truncate_accuracy_log(
        _log(50_000)
    )


def test_accuracy_txt_keeps_one_hash_and_refuses_a_stale_one() -> None:
    good = hashlib.sha256(b"log").hexdigest()
    assert accuracy_txt(f"top-1 = 75\nhash={good}\n\n", good) == f"top-1 = 75\nhash={good}\n"
    assert accuracy_txt("top-1 = 75\n", good) == f"top-1 = 75\nhash={good}\n"
    with pytest.raises(UsageError, match="re-run the accuracy run"):
        accuracy_txt(f"top-1 = 75\nhash={'0' * 64}\n", good)


# ------------------------------------------------------------------ refusals and the CLI


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlmeter")
    submission_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except MlmeterError as exc:
        print(f"error: {exc}")
        return exc.exit_code
    return code


def _pkg(*dirs: Path, out: Path, **kw: str) -> list[str]:
    argv = ["submission", "package", *map(str, dirs), "-o", str(out), "--system", SYSTEM]
    for key in ("org", "division"):
        argv += [f"--{key}", kw.get(key, {"org": ORG, "division": "open"}[key])]
    return argv + (["--force"] if kw.get("force") else [])


def test_cli_prints_the_tree_and_one_line_per_result(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(_pkg(runs["perf"], runs["acc"], out=tmp_path / "t")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"tree: {tmp_path / 't'}"
    assert "resnet50 Offline performance" in out[1] and out[1].endswith("[VALID]")
    assert out[2].startswith("  resnet50 Offline accuracy:") and len(out) == 3


def test_refusals(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "not an mlmeter run or train folder": _pkg(tmp_path, out=tmp_path / "a"),
        "pass one run per benchmark": _pkg(runs["perf"], runs["perf"], out=tmp_path / "b"),
        "--division 'secret'": _pkg(runs["perf"], out=tmp_path / "c", division="secret"),
        "not a network run": _pkg(runs["perf"], out=tmp_path / "d", division="network"),
        "re-run `mlmeter train ... --org Other`": _pkg(
            runs["train"], out=tmp_path / "e", org="Other"
        ),
    }
    for needle, argv in cases.items():
        assert _cli(argv) == 2, needle
        err = capsys.readouterr().out
        assert err.startswith("error: ") and needle in err and err.count("\n") == 1, err
    assert not list(tmp_path.glob(".*partial"))  # nothing half-written is left behind


def test_existing_tree_needs_force(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t"
    assert _cli(_pkg(runs["perf"], out=out)) == 0
    assert _cli(_pkg(runs["acc"], out=out)) == 2 and "add --force" in capsys.readouterr().out
    assert _cli(_pkg(runs["acc"], out=out, force="1")) == 0
    assert not (out / SCEN / "performance").exists() and (out / SCEN / "accuracy").is_dir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    assert _cli(_pkg(runs["acc"], out=tmp_path / "other", force="1")) == 2
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"
