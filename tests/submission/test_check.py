"""``mlmeter submission check`` on a tree packaged from real ``mlmeter run`` and
``mlmeter train`` output: the clean tree passes the dev round with no error, and each
corruption (a copy of it, edited) fails with its own finding code.

The runs and the tree are made once per module (about 10 s on one core); each corruption
works on a copy.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlmeter.cli import _submission_check as cli
from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.rules import load_round
from mlmeter.submission._check import check_tree, run_check
from mlmeter.submission._checks_common import Context
from mlmeter.submission._findings import Findings, Severity
from mlmeter.submission._loader import load_tree
from mlmeter.submission._package import package

ORG, SYSTEM = "Acme", "box"
SCEN = Path("open", ORG, "results", SYSTEM, "resnet50", "Offline")
PERF = SCEN / "performance" / "run_1"
ACC = SCEN / "accuracy"
SYS_JSON = Path("open", ORG, "systems", f"{SYSTEM}.json")
TRAIN = Path("training", ORG, "results", SYSTEM, "resnet")
IC = ["run", "image-classification", "--scenario", "Offline", "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged tree of a performance run, an accuracy run and five training runs."""
    base = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        mp.setenv("MLMETER_DB", str(base / "results.db"))  # never the user's store
        assert main([*IC, "--output", str(base / "perf")]) == 0
        assert main([*IC, "--mode", "accuracy", "--output", str(base / "acc")]) == 0
        train = ["train", "synthetic", "--runs", "5", "--org", ORG, "--system", SYSTEM]
        assert main([*train, "--output", str(base / "train")]) == 0
    out = tmp_path_factory.mktemp("sub") / "tree"
    package([base / "perf", base / "acc", base / "train"], out, org=ORG, division="open",
            system=SYSTEM, round_name="dev")  # fmt: skip
    return out


@pytest.fixture()
def tree(clean: Path, tmp_path: Path) -> Path:
    """A copy of the clean tree to corrupt."""
    return Path(shutil.copytree(clean, tmp_path / "tree"))


def _errors(root: Path, round_name: str | None = "dev") -> dict[str, list[str]]:
    found = check_tree(root, round_name)
    out: dict[str, list[str]] = {}
    for f in found.errors:
        out.setdefault(f.code, []).append(f"{f.path}: {f.message}")
    return out


def _edit_detail(path: Path, key: str, value: Any) -> None:
    lines = []
    for line in path.read_text().splitlines():
        doc = json.loads(line.removeprefix(":::MLLOG ")) if line.startswith(":::MLLOG") else {}
        if doc.get("key") == key:
            doc["value"] = value
            line = ":::MLLOG " + json.dumps(doc)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


def _sub(path: Path, pattern: str, repl: str | Callable[[re.Match[str]], str]) -> None:
    text = path.read_text()
    new, n = re.subn(pattern, repl, text, count=1, flags=re.MULTILINE)
    assert n == 1, f"{pattern!r} not found in {path}"
    path.write_text(new)


def test_clean_tree_passes_the_dev_round(clean: Path) -> None:
    found = check_tree(clean, "dev")
    assert found.errors == [], found.render()
    assert found.ok and "rules.round" in found.codes()
    loaded = load_tree(clean)
    assert [(e.benchmark, e.scenario) for e in loaded.inference] == [("resnet50", "Offline")]
    assert [e.benchmark for e in loaded.training] == ["resnet"]


def test_round_comes_from_the_manifest(clean: Path) -> None:
    found = check_tree(clean)
    assert found.ok, found.render()
    note = next(f for f in found if f.code == "rules.round")
    assert "round dev (from mlmeter_submission.json)" in note.message


def test_the_official_round_rejects_a_short_local_run(clean: Path) -> None:
    errors = _errors(clean, "6.0")
    assert {"perf.short_duration", "perf.sample_count", "training.unknown_benchmark"} <= set(errors)
    assert "600000" in errors["perf.short_duration"][0]


def test_missing_file(tree: Path) -> None:
    (tree / PERF / "mlperf_log_summary.txt").unlink()
    errors = _errors(tree)
    assert any(
        p.startswith(f"{(PERF / 'mlperf_log_summary.txt').as_posix()}:")
        for p in errors["files.missing"]
    )


def test_unexpected_extra_file(tree: Path) -> None:
    (tree / PERF / "notes.txt").write_text("hello\n")
    errors = _errors(tree)
    assert "notes.txt" in errors["files.unexpected"][0]
    assert "files.unlisted" in errors


def test_invalid_run(tree: Path) -> None:
    _edit_detail(tree / PERF / "mlperf_log_detail.txt", "result_validity", "INVALID")
    _edit_detail(tree / PERF / "mlperf_log_detail.txt", "result_min_duration_met", False)
    errors = _errors(tree)
    assert "min duration not met" in errors["perf.invalid_run"][0]
    assert "summary.mismatch" in errors  # the summary still says VALID


def test_short_duration(tree: Path) -> None:
    _edit_detail(tree / PERF / "mlperf_log_detail.txt", "effective_min_duration_ms", 500)
    message = _errors(tree)["perf.short_duration"][0]
    assert "is 500" in message and ">= 1000" in message


def test_wrong_seed(tree: Path) -> None:
    _edit_detail(tree / PERF / "mlperf_log_detail.txt", "effective_schedule_rng_seed", 42)
    message = _errors(tree)["perf.wrong_seed"][0]
    assert "effective_schedule_rng_seed is 42" in message
    assert str(load_round("dev").seeds.schedule_rng_seed) in message


def test_tampered_summary(tree: Path) -> None:
    def double(m: re.Match[str]) -> str:
        return f"{m.group(1)}{float(m.group(2)) * 2:.3f}"

    _sub(tree / PERF / "mlperf_log_summary.txt", r"^(Samples per second: )([\d.]+)$", double)
    errors = _errors(tree)
    assert any("Samples per second" in m for m in errors["summary.mismatch"])
    assert "files.hash_mismatch" in errors


def test_summary_and_detail_seeds_are_compared_exactly(tree: Path) -> None:
    _sub(tree / PERF / "mlperf_log_summary.txt", r"^(qsl_rng_seed : \d+)\d$", r"\g<1>1")
    assert any("qsl_rng_seed" in m for m in _errors(tree)["summary.mismatch"])


def test_accuracy_below_target(tree: Path) -> None:
    _sub(tree / ACC / "accuracy.txt", r"^top-1 = [\d.]+$", "top-1 = 60")
    errors = _errors(tree)
    assert (
        "top-1 = 60 is below the target its accuracy.txt states (74.25)"
        in errors["accuracy.below_target"][0]
    )


def test_accuracy_txt_that_says_fail(tree: Path) -> None:
    _sub(tree / ACC / "accuracy.txt", r"^result = PASS$", "result = FAIL")
    assert "result = FAIL" in _errors(tree)["accuracy.below_target"][0]


def test_closed_division_uses_the_round_target(tree: Path) -> None:
    shutil.move(tree / "open", tree / "closed")
    _sub(
        tree / "closed" / ORG / "systems" / f"{SYSTEM}.json",
        r'"division": "open"',
        '"division": "closed"',
    )
    errors = _errors(tree)
    assert "below the round dev target 75.6954" in errors["accuracy.below_target"][0]
    assert "Server" in errors["results.missing_scenario"][0]  # datacenter needs Server too


def test_accuracy_log_tampered(tree: Path) -> None:
    log = tree / ACC / "mlperf_log_accuracy.json"
    data = log.read_bytes()
    log.write_bytes(data.replace(b'"data"', b'"data" ', 1))
    errors = _errors(tree)
    assert "the log changed after it was scored" in errors["accuracy.hash_mismatch"][0]


def test_accuracy_txt_without_hash(tree: Path) -> None:
    _sub(tree / ACC / "accuracy.txt", r"^hash=\w+\n", "")
    assert "accuracy.no_hash" in _errors(tree)


def test_missing_system_field(tree: Path) -> None:
    doc = json.loads((tree / SYS_JSON).read_text())
    del doc["cooling"]
    (tree / SYS_JSON).write_text(json.dumps(doc))
    assert "cooling" in _errors(tree)["system.missing_field"][0]


def test_division_mismatch(tree: Path) -> None:
    _sub(tree / SYS_JSON, r'"division": "open"', '"division": "closed"')
    assert "under open/" in _errors(tree)["system.division_mismatch"][0]


def test_network_division_needs_a_network_system(tree: Path) -> None:
    shutil.move(tree / "open", tree / "network")
    _sub(
        tree / "network" / ORG / "systems" / f"{SYSTEM}.json",
        r'"division": "open"',
        '"division": "network"',
    )
    errors = _errors(tree)
    assert "network.not_network_system" in errors
    assert "lacks 'Network SUT'" in errors["network.sut_name"][0]


def test_path_traversal_archive(clean: Path, tmp_path: Path) -> None:
    archive = tmp_path / "tree.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(clean, arcname="tree")
        info = tarfile.TarInfo("../evil")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"evil\n"))
    found = check_tree(archive, "dev")
    assert [f.code for f in found.errors] == ["archive.path_traversal"]
    assert not (tmp_path.parent / "evil").exists()


def test_clean_archive_passes(clean: Path, tmp_path: Path) -> None:
    archive = tmp_path / "tree.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(clean, arcname="tree")
    assert check_tree(archive, "dev").ok


def test_missing_training_run(tree: Path) -> None:
    (tree / TRAIN / "result_4.txt").unlink()
    errors = _errors(tree)
    assert "4 result_<i>.txt, round dev requires exactly 5" in errors["training.run_count"][0]


def test_aborted_training_runs(tree: Path) -> None:
    _sub(tree / TRAIN / "result_1.txt", r'"status": "success"', '"status": "aborted"')
    found = check_tree(tree, "dev")
    assert "training.run_failed" in {f.code for f in found if f.severity is Severity.WARNING}
    assert "training.too_many_failed" not in found.codes()  # one failure is tolerated
    _sub(tree / TRAIN / "result_3.txt", r'"status": "success"', '"status": "aborted"')
    errors = _errors(tree)
    assert "2 of 5 runs failed" in errors["training.too_many_failed"][0]
    assert "training.no_score" in errors


def test_duplicate_training_seeds(tree: Path) -> None:
    seed = re.search(r'"key": "seed", "value": (\d+)', (tree / TRAIN / "result_0.txt").read_text())
    assert seed is not None
    _sub(tree / TRAIN / "result_2.txt", r'("key": "seed", "value": )\d+', rf"\g<1>{seed.group(1)}")
    found = check_tree(tree, "dev")
    assert "training.duplicate_seed" in found.codes()  # a warning in open, an error in closed


def test_loadgen_error_in_the_detail_log(tree: Path) -> None:
    detail = tree / PERF / "mlperf_log_detail.txt"
    line = json.loads(detail.read_text().splitlines()[-1].removeprefix(":::MLLOG "))
    line.update(key="error_runtime", value="Ran out of generated queries")
    line["metadata"]["is_error"] = True
    with detail.open("a") as f:
        f.write(":::MLLOG " + json.dumps(line) + "\n")
    assert "Ran out of generated queries" in _errors(tree)["perf.loadgen_error"][0]


def test_manifest_round_that_does_not_exist(tree: Path) -> None:
    _sub(tree / "mlmeter_submission.json", r'"round": "dev"', '"round": "9.9"')
    assert "'9.9'" in _errors(tree, None)["rules.unknown_round"][0]


def test_symlink_in_the_tree(tree: Path) -> None:
    (tree / SCEN / "link").symlink_to("/etc/hostname")
    errors = _errors(tree)
    assert "files.link" in errors and "files.unexpected" in errors


def test_a_crashing_check_is_a_finding_and_others_still_run(clean: Path) -> None:
    def broken(ctx: Context) -> Any:
        yield from ()
        raise KeyError("boom")

    ctx = Context(load_tree(clean), load_round("dev"), None)
    found = run_check("broken", broken, ctx)
    assert [(f.code, f.severity) for f in found] == [("check.crashed", Severity.ERROR)]
    assert "the broken check crashed (KeyError: 'boom')" in found[0].message


def test_unknown_round_is_a_usage_error(clean: Path) -> None:
    with pytest.raises(UsageError, match="unknown round"):
        check_tree(clean, "4.2")


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_cli_json_and_exit_codes(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli([str(tree), "--round", "dev"]) == 0
    assert "submission check: PASS" in capsys.readouterr().out
    _edit_detail(tree / PERF / "mlperf_log_detail.txt", "effective_qsl_rng_seed", 1)
    assert _cli([str(tree), "--round", "dev", "--json"]) == 1
    items = json.loads(capsys.readouterr().out)
    assert {"severity", "code", "path", "message"} == set(items[0])
    assert "perf.wrong_seed" in {i["code"] for i in items if i["severity"] == "error"}
    rendered = Findings(check_tree(tree, "dev")).render()
    assert rendered.splitlines()[0].startswith("errors (") and "FAIL" in rendered
