"""Recording real ``mlmeter run`` and ``mlmeter train`` output, a loaded tree, and the
``mlmeter results`` commands over them."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlmeter.cli import results as results_cmd
from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.logfmt import read_results_json
from mlmeter.results import RunFilter, open_store
from mlmeter.results._record import (
    record_run_dir,
    record_training_dir,
    rows_from_run,
    rows_from_training,
)
from mlmeter.results._tree import rows_from_tree
from mlmeter.submission._model import InferenceEntry, SystemDesc, TrainingEntry, Tree
from mlmeter.training._results import score_logs
from mlmeter.training._spec import BenchmarkSpec


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A short image-classification Offline run and a 3-run synthetic training."""
    base = tmp_path_factory.mktemp("rec")
    old = os.environ.get("MLMETER_DB")
    os.environ["MLMETER_DB"] = str(base / "cli.db")  # never the user's database
    try:
        run_dir, train_dir = base / "run", base / "train"
        code = main(["run", "image-classification", "--scenario", "Offline", "--output",
                     str(run_dir), "--set", "min_duration=100", "--set", "min_query_count=1",
                     "--quiet"])  # fmt: skip
        assert code == 0
        assert main(["train", "synthetic", "--runs", "3", "--output", str(train_dir)]) in (0, 3)
        yield run_dir, train_dir
    finally:
        if old is None:
            os.environ.pop("MLMETER_DB", None)
        else:
            os.environ["MLMETER_DB"] = old


def test_run_row_matches_results_json(outputs: tuple[Path, Path]) -> None:
    run_dir, _ = outputs
    doc = read_results_json(run_dir / "results.json")
    system = json.loads((run_dir / "system.json").read_text())
    (row,) = rows_from_run(run_dir)
    assert (row.kind, row.source, row.scenario, row.benchmark) == (
        "inference",
        "run",
        "Offline",
        "resnet50",
    )
    assert row.metric == "result_samples_per_second" and row.unit == "samples/s"
    assert row.value == doc["result"]["samples_per_second"]
    assert row.valid is doc["validity"]["valid"] and row.higher_is_better
    assert row.system == system["system_name"] and row.run_at == doc["run"]["test_datetime"]
    p99 = doc["result"]["sample_latency"]["percentiles"]["0.99"]
    assert row.extra["latency_ms"]["p99"] == p99 / 1e6
    assert row.extra["target_qps"] == doc["effective"]["target_qps"]
    assert row.extra["sut"] == doc["run"]["sut_name"]


def test_training_row_matches_score_logs(outputs: tuple[Path, Path]) -> None:
    _, train_dir = outputs
    info = json.loads((train_dir / "mlmeter_train.json").read_text())
    logs = sorted((train_dir / "results").glob("*/*/result_*.txt"))
    spec = BenchmarkSpec(info["benchmark"], info["ruleset"], info["progress"], info["target"])
    expected = score_logs(logs, spec, required_runs=3)
    (row,) = rows_from_training(train_dir)
    assert (row.kind, row.benchmark, row.unit, row.higher_is_better) == (
        "training",
        info["benchmark"],
        "minutes",
        False,
    )
    assert row.value == expected.score.score == info["score"]["olympic_minutes"]
    assert row.extra["run_minutes"] == [r.minutes for r in expected.runs]
    assert len(row.extra["run_minutes"]) == 3


def test_record_glue_and_warning(outputs: tuple[Path, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    run_dir, train_dir = outputs
    url = str(tmp_path / "glue.db")
    assert record_run_dir(run_dir, url) == f"recorded as run 1 in {url}"
    assert record_training_dir(train_dir, url) == f"recorded as run 2 in {url}"
    assert record_run_dir(tmp_path / "nothing", url) is None  # a warning, never an exception
    err = capsys.readouterr().err
    assert err.startswith("warning: not recorded") and err.count("\n") == 1
    with open_store(url) as store:
        assert [r.kind for r in store.runs()] == ["training", "inference"]


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlmeter")
    results_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_record_list_show_compare(outputs: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    run_dir, train_dir = outputs
    db = ["--db", f"sqlite://{tmp_path / 'c.db'}"]
    assert _cli(["results", "record", str(run_dir), str(run_dir), str(train_dir), *db]) == 0
    assert "ids 1, 2, 3" in capsys.readouterr().out
    assert _cli(["results", "list", "--kind", "inference", "--json", *db]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [2, 1] and listed[0]["benchmark"] == "resnet50"
    assert _cli(["results", "list", *db]) == 0
    assert "time_to_train" not in capsys.readouterr().out  # the table shows values, not metrics
    assert _cli(["results", "show", "3", *db]) == 0
    assert "time_to_train_minutes" in capsys.readouterr().out
    assert _cli(["results", "compare", "1", "benchmark=resnet50,limit=2", "--json", *db]) == 0
    (d,) = json.loads(capsys.readouterr().out)
    assert (d["change"], d["noise"], d["significant"], len(d["b"])) == (0, 0, False, 2)
    with pytest.raises(UsageError, match="no result with id 99"):
        _cli(["results", "show", "99", *db])
    with pytest.raises(UsageError, match="KEY=VALUE"):
        _cli(["results", "compare", "1", "colour=red", *db])


def test_rows_from_tree(tmp_path: Path) -> None:
    sysdesc = SystemDesc("closed", "Acme", "box", tmp_path / "box.json",
                         {"system_name": "Acme Box", "accelerators_per_node": "4",
                          "number_of_nodes": "2", "accelerator_model_name": "X1"})  # fmt: skip
    inf = InferenceEntry("closed", "Acme", "box", "resnet50", "SingleStream", tmp_path,
                         {"test_datetime": "2024-01-01T00:00:00Z"}, {}, {"acc": 76.1},
                         "early_stopping_latency_ss", 0.5, "ms", True)  # fmt: skip
    train = TrainingEntry("closed", "Acme", "box", "resnet", tmp_path, (), 12.5,
                          (12.0, 12.5, None), "4.0.0")  # fmt: skip
    tree = Tree(tmp_path, {("closed", "Acme", "box"): sysdesc}, [inf], [train])
    a, b = rows_from_tree(tree)
    assert (a.system, a.accelerators, a.accelerator, a.higher_is_better) == (
        "Acme Box",
        8,
        "X1",
        False,
    )
    assert (a.value, a.run_at, a.extra["accuracy"], a.source) == (
        0.5,
        "2024-01-01T00:00:00Z",
        {"acc": 76.1},
        "import",
    )
    assert (b.kind, b.value, b.extra["run_minutes"], b.scenario) == (
        "training",
        12.5,
        [12.0, 12.5, None],
        "",
    )
    with open_store(str(tmp_path / "t.db")) as store:
        store.add([a, b])
        assert len(store.runs(RunFilter(source="import", org="Acme"))) == 2


def test_import_of_an_archive_records_the_archive_as_the_logs_place(
    outputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A training org folder packed as .tar.gz: its rows equal the folder's, and since the
    unpacked copy is gone afterwards, each row points at the archive."""
    import tarfile

    from mlmeter.results._importing import load_rows

    _, train_dir = outputs
    archive = tmp_path / "org.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(train_dir, arcname="Org")
    from_folder, from_archive = load_rows(train_dir), load_rows(archive)
    assert [(r.benchmark, r.value) for r in from_archive] == [
        (r.benchmark, r.value) for r in from_folder
    ]
    assert {r.path for r in from_archive} == {str(archive.resolve())}
