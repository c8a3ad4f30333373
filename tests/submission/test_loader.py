"""load_tree: the three tree shapes, the metric per scenario, training scores and the
problems a broken tree turns into (findings, never exceptions)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import trees

from mlmeter.errors import UsageError
from mlmeter.logfmt import read_detail
from mlmeter.submission._findings import Severity
from mlmeter.submission._loader import load_tree
from mlmeter.submission._model import Tree
from mlmeter.submission._parse import accuracy_fields, parse_summary

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def inference_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trees.inference_repo(tmp_path_factory.mktemp("inf"))


@pytest.fixture(scope="module")
def training_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train")
    return trees.training_repo(root, {"OrgA": ["sysA1", "sysA2"], "OrgB": ["sysB1"]})


def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "tree"))


def test_published_inference_repo_loads_every_entry(inference_repo: Path) -> None:
    tree = load_tree(inference_repo)
    assert tree.problems == []
    expected = {
        ("closed", org, e.system, e.benchmark, e.scenario)
        for (_, org), entries in trees.PUBLISHED_INFERENCE.items()
        for e in entries
    }
    got = {(e.division, e.org, e.system, e.benchmark, e.scenario) for e in tree.inference}
    assert got == expected
    assert set(tree.systems) == {(d, o, s) for d, o, s, _, _ in expected}
    assert tree.system("closed", "OrgA", "sysA1") is not None
    assert tree.system("closed", "OrgA", "sysA1").get("submitter") == "OrgA"  # type: ignore[union-attr]
    assert all(e.valid for e in tree.inference)
    assert tree.rel(tree.inference[0].path).startswith("closed/")


# The summary line that shows the same figure as the submission metric (loadgen.md §1, §7).
_SUMMARY_LINE = {
    ("Offline", False): ("Samples per second", 1.0),
    ("Server", False): ("Completed samples per second", 1.0),
    ("Offline", True): ("Tokens per second", 1.0),
    ("Server", True): ("Completed tokens per second", 1.0),
}


def test_metric_per_scenario_matches_the_logs(inference_repo: Path) -> None:
    tree = load_tree(inference_repo)
    for e in tree.inference:
        run = e.path / "performance" / "run_1"
        detail = read_detail(run / "mlperf_log_detail.txt")
        tokens = e.benchmark.startswith("llama")
        if e.scenario in ("SingleStream", "MultiStream"):
            key = {"SingleStream": "early_stopping_latency_ss"}.get(
                e.scenario, "early_stopping_latency_ms"
            )
            assert (e.metric, e.unit) == (key, "ms")
            assert e.value == pytest.approx(float(detail[key]) / 1e6)  # type: ignore[arg-type]
            continue
        summary, _ = parse_summary(run / "mlperf_log_summary.txt")
        label, _ = _SUMMARY_LINE[(e.scenario, tokens)]
        assert e.unit == ("tokens/s" if tokens else "samples/s")
        assert e.value == pytest.approx(float(summary[label]), rel=1e-4), (e.path, label)
        assert e.detail[e.metric] == detail[e.metric]


def test_summary_and_accuracy_are_parsed(inference_repo: Path) -> None:
    tree = load_tree(inference_repo)
    for e in tree.inference:
        assert e.summary["Result is"] == "VALID"
        assert e.summary["Scenario"] == e.scenario
        assert e.accuracy is not None
        log = e.path / "accuracy" / "mlperf_log_accuracy.json"
        assert e.accuracy["hash"] == hashlib.sha256(log.read_bytes()).hexdigest()
        want = "rouge1" if e.benchmark.startswith("llama") else None
        if want:
            assert (e.accuracy["metric"], e.accuracy["value"]) == ("rouge1", 44.43)


def test_published_training_repo_scores_as_the_official_summarizer(training_repo: Path) -> None:
    rs = pytest.importorskip("mlperf_logging.result_summarizer.result_summarizer")
    tree = load_tree(training_repo)
    assert tree.problems == []
    assert {(e.org, e.system, e.benchmark) for e in tree.training} == {
        ("OrgA", "sysA1", "resnet"),
        ("OrgA", "sysA2", "resnet"),
        ("OrgB", "sysB1", "resnet"),
    }
    for e in tree.training:
        assert [p.name for p in e.logs] == ["result_0.txt", "result_1.txt", "result_2.txt"]
        assert e.division == "open" and e.ruleset == ""
        assert tree.system("training", e.org, e.system) is not None
        official = rs._compute_strong_score_standalone(
            "resnet", e.system, False, str(e.path), "training", "4.0.0"
        )[0]
        assert e.minutes == pytest.approx(official, rel=1e-12)
        assert len(e.run_minutes) == 3 and all(m is not None for m in e.run_minutes)


def test_training_score_applies_scaling_json(training_repo: Path, tmp_path: Path) -> None:
    root = _copy(training_repo / "OrgA", tmp_path)
    before = load_tree(root).training[0]
    (before.path / "scaling.json").write_text(json.dumps({"scaling_factor": 1.5}))
    after = load_tree(root).training[0]
    assert before.minutes is not None
    assert after.minutes == pytest.approx(before.minutes * 1.5)


def test_train_output_folder_loads_as_one_org(tmp_path: Path) -> None:
    out = trees.train_synthetic(tmp_path / "out", 3, system="box", org="Acme")
    tree = load_tree(out)
    assert [(e.org, e.system, e.ruleset) for e in tree.training] == [("Acme", "box", "4.0.0")]
    assert ("training", "Acme", "box") in tree.systems


def test_submission_tree_with_training_folder(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    trees.inference_repo(root, {("open", "Acme"): [trees.Entry("box", "resnet50", "Offline")]})
    trees.training_org(root / "training" / "Acme", ["box"], "Acme")
    tree = load_tree(root)
    assert [(e.division, e.org, e.scenario) for e in tree.inference] == [
        ("open", "Acme", "Offline")
    ]
    assert [(e.division, e.org, e.system) for e in tree.training] == [("open", "Acme", "box")]
    assert set(tree.systems) == {("open", "Acme", "box"), ("training", "Acme", "box")}


def _one_entry_tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "tree"
    layout = {("closed", "Acme"): [trees.Entry("box", "resnet50", "Offline")]}
    trees.inference_repo(root, layout)
    return root, root / "closed" / "Acme" / "results" / "box" / "resnet50" / "Offline"


def _codes(tree: Tree) -> set[str]:
    return {p.code for p in tree.problems}


def test_broken_files_become_findings(tmp_path: Path) -> None:
    root, scen = _one_entry_tree(tmp_path)
    (root / "closed" / "Acme" / "systems" / "box.json").write_text("{not json")
    (scen / "performance" / "run_1" / "mlperf_log_detail.txt").write_text("hello\n")
    (scen / "performance" / "run_1" / "mlperf_log_summary.txt").unlink()
    (scen.parent / "Sideways").mkdir()
    tree = load_tree(root)
    assert _codes(tree) == {
        "load.bad_json",
        "load.detail_unreadable",
        "load.summary_missing",
        "load.unknown_scenario",
    }
    (entry,) = tree.inference
    assert entry.detail == {} and entry.summary == {} and entry.value is None
    assert not entry.valid
    bad = next(p for p in tree.problems if p.code == "load.bad_json")
    assert bad.path == "closed/Acme/systems/box.json" and bad.severity is Severity.ERROR
    warn = next(p for p in tree.problems if p.code == "load.unknown_scenario")
    assert warn.severity is Severity.WARNING


def test_missing_run_and_missing_system(tmp_path: Path) -> None:
    root, scen = _one_entry_tree(tmp_path)
    shutil.rmtree(scen / "performance")
    (root / "closed" / "Acme" / "systems" / "box.json").unlink()
    tree = load_tree(root)
    assert _codes(tree) == {"load.no_system", "load.detail_missing", "load.summary_missing"}
    assert tree.inference[0].accuracy is not None  # what could be read still is


def test_broken_training_folders(training_repo: Path, tmp_path: Path) -> None:
    root = _copy(training_repo, tmp_path)
    (root / "OrgA" / "systems" / "sysA2.json").unlink()
    (root / "OrgB" / "results" / "sysB1" / "bert").mkdir()
    (root / "OrgB" / "results" / "sysB1" / "resnet" / "scaling.json").write_text("[]")
    tree = load_tree(root)
    assert _codes(tree) == {
        "load.no_system",
        "load.no_training_logs",
        "load.bad_json",
        "load.bad_scaling",
    }
    assert len(tree.training) == 3
    orphan = next(e for e in tree.training if e.system == "sysA2")
    assert orphan.division == ""


def test_too_few_or_failed_runs_have_no_score(training_repo: Path, tmp_path: Path) -> None:
    root = _copy(training_repo / "OrgB", tmp_path)
    bench = root / "results" / "sysB1" / "resnet"
    (bench / "result_2.txt").unlink()
    (entry,) = load_tree(root).training
    assert entry.minutes is None and len(entry.run_minutes) == 2
    text = (bench / "result_1.txt").read_text().replace('"success"', '"aborted"')
    (bench / "result_1.txt").write_text(text)
    (bench / "result_0.txt").write_text(text)
    shutil.copy(bench / "result_0.txt", bench / "result_10.txt")
    (entry,) = load_tree(root).training
    assert [p.name for p in entry.logs] == ["result_0.txt", "result_1.txt", "result_10.txt"]
    assert entry.run_minutes == (None, None, None) and entry.minutes is None


def test_unknown_layout_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    tree = load_tree(tmp_path)
    assert _codes(tree) == {"load.unknown_layout"}


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such folder"):
        load_tree(tmp_path / "missing")
    (tmp_path / "f.tar").write_bytes(b"")
    with pytest.raises(UsageError, match="open_tree"):
        load_tree(tmp_path / "f.tar")


@pytest.mark.parametrize(
    ("text", "metric", "value", "extra"),
    [
        ("accuracy=76.456%, good=38228, total=50000", "accuracy", 76.456, {"total": 50000.0}),
        ("mAP=37.552%", "mAP", 37.552, {}),
        ('{"exact_match": 83.67, "f1": 90.874}', "exact_match", 83.67, {"f1": 90.874}),
        ("{'rouge1': 44.43, 'rougeL': np.float64(28.67)}", "rouge1", 44.43, {"rougeL": 28.67}),
        ("AUC=80.31%", "AUC", 80.31, {}),
        ("Word Error Rate: 2.0219%, accuracy=97.98%", "Word Error Rate", 2.0219, {}),
        (
            "top1 = 0.7612\nreference = 0.7646\ntarget = 0.99 x reference = 0.756954\n"
            "samples = 64\nresult = PASS",
            "top1",
            0.7612,
            {"reference": 0.7646, "samples": 64.0},
        ),
    ],
)
def test_accuracy_txt_layouts(
    text: str, metric: str, value: float, extra: dict[str, float]
) -> None:
    digest = hashlib.sha256(text.encode()).hexdigest()
    got = accuracy_fields(f"{text}\nhash=0000\nhash={digest}\n")
    assert (got["metric"], got["value"], got["hash"]) == (metric, value, digest)
    assert extra.items() <= got["values"].items()
    assert got["result"] == ("PASS" if "result = PASS" in text else None)
    assert not any(line.startswith("hash") for line in got["lines"])
