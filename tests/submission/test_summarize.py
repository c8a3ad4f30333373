"""``mlmeter submission summarize``: the results table of submission trees.

- training scores equal those of the official ``mlperf_logging.result_summarizer`` on a
  tree written by ``mlmeter train`` (one clean system, one with a diverged run and a
  ``scaling.json``);
- inference rows carry the metric of each scenario's detail log (from real ``mlmeter run``
  logs put in the published layout), computed again here from the raw lines;
- golden files for every format (``tests/golden/submission_table.*``; regenerate with
  ``UPDATE_GOLDEN=1 pytest tests/submission/test_summarize.py`` and review the diff);
- the HTML page parses, shows the same cells and escapes a hostile system name.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import tarfile
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _golden import check_golden
from mlmeter._version import __version__
from mlmeter.cli import _submission_summarize as cli
from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.reporting._submission_export import (
    TABLE_EXPORTERS,
    get_table_exporter,
    render_table_html,
    row_cells,
)
from mlmeter.reporting._submission_table import COLUMNS, build_table
from mlmeter.submission._loader import load_tree

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "training"))
import trees  # noqa: E402  (tests/submission, on sys.path as the test's folder)
from official import result_summarizer  # noqa: E402

MARKER = ":::MLLOG "
HOSTILE = "<script>alert('x')</script> | & box"
GENERATED = "2000-01-01T00:00:00Z"


# --------------------------------------------------------------------------- tree writers


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _detail(values: dict[str, Any]) -> str:
    lines = [{"key": "loadgen_version", "value": "6.0.17"}] + [
        {"key": k, "value": v} for k, v in values.items()
    ]
    meta = {"is_error": False, "is_warning": False, "file": "t.py", "line_no": 0}
    return "".join(
        MARKER
        + json.dumps(
            {
                **e,
                "time_ms": 0.0,
                "namespace": "mlperf::logging",
                "event_type": "POINT_IN_TIME",
                "metadata": meta,
            }
        )
        + "\n"
        for e in lines
    )


def _system(root: Path, division: str, org: str, name: str, **fields: Any) -> None:
    desc = {"submitter": org, "division": division, "status": "available", **fields}
    _write(root / division / org / "systems" / f"{name}.json", json.dumps(desc, indent=2))


def _scenario(root: Path, where: str, detail: dict[str, Any]) -> None:
    run = root / where / "performance" / "run_1"
    _write(run / "mlperf_log_detail.txt", _detail(detail))
    validity = detail.get("result_validity", "INVALID")
    _write(run / "mlperf_log_summary.txt", f"Result is : {validity}\n")


def _training_log(path: Path, minutes: float | None, seed: int) -> None:
    start = 1_700_000_000_000 + seed * 10_000_000
    stop = start + round((minutes or 1.0) * 60_000)
    status = "success" if minutes is not None else "aborted"
    events = [
        ("POINT_IN_TIME", "submission_benchmark", "resnet", start - 5, {}),
        ("POINT_IN_TIME", "seed", seed, start - 4, {}),
        ("INTERVAL_START", "run_start", None, start, {}),
        ("INTERVAL_END", "run_stop", None, stop, {"status": status}),
    ]
    _write(
        path,
        "".join(
            MARKER
            + json.dumps(
                {
                    "namespace": "",
                    "time_ms": t,
                    "event_type": kind,
                    "key": key,
                    "value": value,
                    "metadata": {"file": "t.py", **meta},
                }
            )
            + "\n"
            for kind, key, value, t, meta in events
        ),
    )


def make_golden_tree(root: Path) -> Path:
    """Two divisions, three systems (one with a hostile name), four scenarios, training."""
    node = {"number_of_nodes": "2", "host_processors_per_node": "2"}
    _system(
        root,
        "closed",
        "OrgA",
        "sysA",
        system_name="Sys A",
        system_type="datacenter",
        host_processor_model_name="CPU X",
        accelerators_per_node=4,
        accelerator_model_name="Acc Y",
        framework="fw 1.0",
        **node,
    )
    _system(
        root,
        "open",
        "OrgB",
        "edge1",
        system_name=HOSTILE,
        system_type="edge, datacenter",
        status="preview",
        number_of_nodes=1,
        host_processors_per_node=1,
        host_processor_model_name="SoC",
        accelerators_per_node=0,
        accelerator_model_name="N/A",
        framework="tflite",
    )
    res = "closed/OrgA/results/sysA/resnet50"
    _scenario(
        root, f"{res}/Offline", {"result_validity": "VALID", "result_samples_per_second": 12345.678}
    )
    _scenario(
        root,
        f"{res}/Server",
        {"result_validity": "VALID", "result_completed_samples_per_sec": 1000.5},
    )
    res = "open/OrgB/results/edge1/retinanet"
    _scenario(
        root,
        f"{res}/SingleStream",
        {"result_validity": "INVALID", "early_stopping_latency_ss": 2_500_000},
    )
    _scenario(
        root,
        f"{res}/MultiStream",
        {"result_validity": "VALID", "early_stopping_latency_ms": 7_125_000},
    )
    org = root / "training" / "OrgA"
    tdesc = {
        "submitter": "OrgA",
        "division": "closed",
        "status": "Available on-premise",
        "system_name": "Train Box",
        "host_processor_model_name": "CPU X",
        "accelerators_per_node": "8",
        "accelerator_model_name": "Acc Y",
        "framework": "torch",
        **node,
    }
    _write(org / "systems" / "tbox.json", json.dumps(tdesc, indent=2))
    for i, minutes in enumerate((10.0, 12.5, None, 11.0, 9.5)):
        _training_log(org / "results" / "tbox" / "resnet" / f"result_{i}.txt", minutes, i)
    return root


@pytest.fixture(scope="module")
def golden_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_golden_tree(tmp_path_factory.mktemp("golden") / "tree")


# --------------------------------------------------------------------------- golden files


def _normalised(text: str, root: Path) -> str:
    return text.replace(str(root.resolve()), "{TREE}").replace(__version__, "{VERSION}")


@pytest.mark.parametrize("fmt", sorted(TABLE_EXPORTERS))
def test_golden_files(golden_tree: Path, fmt: str) -> None:
    table = build_table([load_tree(golden_tree)], generated_utc=GENERATED)
    exporter = TABLE_EXPORTERS[fmt]
    check_golden(
        f"submission_table{exporter.suffix}", _normalised(exporter.render(table), golden_tree)
    )


def test_json_document_is_versioned_and_complete(golden_tree: Path) -> None:
    table = build_table([load_tree(golden_tree)])
    doc = json.loads(TABLE_EXPORTERS["json"].render(table))
    assert (doc["format"], doc["version"]) == ("mlmeter.submission_table", 1)
    assert [c["key"] for c in doc["columns"]] == [k for k, _ in COLUMNS]
    assert doc["sources"] == [str(golden_tree.resolve())]
    assert len(doc["rows"]) == 5 and {r["kind"] for r in doc["rows"]} == {"inference", "training"}


# --------------------------------------------------------------------------- rows


def test_rows_of_the_hand_written_tree(golden_tree: Path) -> None:
    rows = {r.id: r for r in build_table([load_tree(golden_tree)]).rows}
    offline = rows["closed/OrgA/sysA/resnet50/Offline"]
    assert (offline.result, offline.units, offline.valid) == (12345.678, "samples/s", True)
    assert (offline.nodes, offline.processors, offline.accelerators) == (2, 4, 8)
    assert (offline.availability, offline.category) == ("Available", "datacenter")
    assert offline.system == "Sys A" and offline.organization == "OrgA"
    ss = rows["open/OrgB/edge1/retinanet/SingleStream"]
    assert (ss.result, ss.units, ss.valid) == (2.5, "ms", False)  # ns -> ms
    ms = rows["open/OrgB/edge1/retinanet/MultiStream"]
    assert (ms.result, ms.availability, ms.category) == (7.125, "Preview", "edge, datacenter")
    train = rows["closed/OrgA/tbox/resnet"]
    assert train.run_minutes == (10.0, 12.5, None, 11.0, 9.5)
    # the failed run is dropped as the slowest, then the fastest (9.5): mean of 10, 11, 12.5
    assert train.result == pytest.approx((10.0 + 11.0 + 12.5) / 3, rel=1e-12)
    assert (train.valid, train.units, train.accelerators, train.scaling_factor) == (
        True,
        "minutes",
        16,
        1.0,
    )
    assert "1 run(s) did not converge" in train.notes


def test_rows_are_sorted_by_division_org_system_benchmark_scenario(golden_tree: Path) -> None:
    other = make_golden_tree(golden_tree.parent / "second")
    rows = build_table([load_tree(other), load_tree(golden_tree)]).rows
    keys = [(r.division, r.organization, r.system, r.benchmark, r.scenario) for r in rows]
    assert keys == sorted(keys, key=lambda k: ([s.casefold() for s in k], k))
    assert len(rows) == 10 and [r.id for r in rows[0::2]] == [r.id for r in rows[1::2]]


def _first_values(detail: Path) -> dict[str, Any]:
    """The detail log read independently: key -> first value."""
    values: dict[str, Any] = {}
    for line in detail.read_text(encoding="utf-8").splitlines():
        if line.startswith(MARKER):
            entry = json.loads(line[len(MARKER) :])
            values.setdefault(entry["key"], entry["value"])
    return values


_EXPECTED = {  # scenario -> (detail key, divisor, unit): loadgen.md §1
    "Offline": ("result_samples_per_second", 1.0, "samples/s"),
    "Server": ("result_completed_samples_per_sec", 1.0, "samples/s"),
    "SingleStream": ("early_stopping_latency_ss", 1e6, "ms"),
    "MultiStream": ("early_stopping_latency_ms", 1e6, "ms"),
}
_LLM_EXPECTED = {  # loadgen.md §7: the LLM metric is tokens per second
    "Offline": ("result_tokens_per_second", 1.0, "tokens/s"),
    "Server": ("result_completed_tokens_per_second", 1.0, "tokens/s"),
}


def test_inference_rows_of_a_published_layout_tree(tmp_path: Path) -> None:
    root = trees.inference_repo(tmp_path / "repo")
    table = build_table([load_tree(root)])
    expected = sorted(
        (div, org, e.system, e.benchmark, e.scenario)
        for (div, org), entries in trees.PUBLISHED_INFERENCE.items()
        for e in entries
    )
    keys = [(r.division, r.organization, r.system_id, r.benchmark, r.scenario) for r in table.rows]
    assert sorted(keys) == expected
    fields = trees.SYSTEM_FIELDS
    for row in table.rows:
        scen = root / row.path
        assert scen.is_dir() and row.id == row.path.replace("/results", "")
        values = _first_values(scen / "performance" / "run_1" / "mlperf_log_detail.txt")
        llm = row.benchmark.startswith("llama")
        key, divisor, unit = (_LLM_EXPECTED if llm else _EXPECTED)[row.scenario]
        assert row.result == pytest.approx(float(values[key]) / divisor, rel=1e-12), row.id
        assert row.units == unit and row.valid == (values["result_validity"] == "VALID")
        assert row.valid and row.kind == "inference"
        assert (row.category, row.availability) == (fields["system_type"], fields["status"])
        assert (row.nodes, row.processors, row.accelerators) == (1, 1, 1)
        assert (row.host_processor, row.accelerator) == ("Test CPU", "Test Accelerator")


# --------------------------------------------------------------------------- training parity


def _train(org: Path, system: str, *extra: str) -> None:
    argv = ["train", "synthetic", "--output", str(org), "--org", org.name, "--system", system]
    assert main([*argv, "--runs", "5", *extra]) == 0


def test_training_minutes_equal_the_official_result_summarizer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = tmp_path / "MyOrg"
    _train(org, "box", "--seed", "10")
    _train(org, "box2", "--seed", "20", "--set", "nan_at=1", "--set", "nan_seed=22")
    scaled = org / "results" / "box2" / "resnet"
    (scaled / "scaling.json").write_text(json.dumps({"scaling_factor": 1.25}))
    capsys.readouterr()
    ours = {r.system_id: r for r in build_table([load_tree(org)]).rows}
    official = result_summarizer(tmp_path, "MyOrg", "4.0.0")
    assert official.returncode == 0, official.text[-2000:]
    with (tmp_path / "summary.csv").open(newline="") as fh:
        theirs = {row["system"]: float(row["resnet"]) for row in csv.DictReader(fh)}
    assert sorted(theirs) == ["box", "box2"]
    for system, minutes in theirs.items():
        row = ours[system]
        assert row.benchmark == "resnet" and row.result is not None
        assert row.result == pytest.approx(minutes, rel=1e-9, abs=0)
    assert ours["box2"].scaling_factor == 1.25 and ours["box2"].run_minutes.count(None) == 1
    assert ours["box"].valid and ours["box2"].valid


def _training_org(root: Path, benchmark: str, minutes: list[float | None]) -> Path:
    """An organisation folder with one system and ``result_<i>.txt`` of these times."""
    desc = {"submitter": "Org", "division": "open", "status": "Available on-premise"}
    _write(root / "systems" / "s.json", json.dumps(desc))
    for i, m in enumerate(minutes):
        _training_log(root / "results" / "s" / benchmark / f"result_{i}.txt", m, i)
    return root


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.integers(1, 10**7).map(lambda ms: ms / 60_000)),
        min_size=1,
        max_size=11,
    ),
    st.sampled_from([1.0, 0.97, 1.0044]),
    st.sampled_from(["resnet", "unet3d"]),
)
def test_olympic_minutes_follow_the_official_formula(
    minutes: list[float | None], factor: float, benchmark: str
) -> None:
    """Drop 1 and 1 (4 and 4 for unet3d), failures as the slowest, times scaling.json."""
    from mlperf_logging.result_summarizer import result_summarizer as official

    with tempfile.TemporaryDirectory() as tmp:
        org = _training_org(Path(tmp) / "Org", benchmark, minutes)
        (org / "results" / "s" / benchmark / "scaling.json").write_text(
            json.dumps({"scaling_factor": factor})
        )
        (row,) = build_table([load_tree(org)]).rows
    converged = [m for m in minutes if m is not None]
    failed = len(minutes) - len(converged)
    drop = 4 if benchmark == "unet3d" else 1
    expected = None
    if failed <= drop:
        expected = official._compute_olympic_average(converged, failed, drop)
    assert [m is None for m in row.run_minutes] == [m is None for m in minutes]
    for ours, given_ in zip(row.run_minutes, minutes, strict=True):
        assert ours is None or given_ is None or math.isclose(ours, given_, rel_tol=1e-12)
    assert row.scaling_factor == factor
    if expected is None:
        assert row.result is None and not row.valid and row.notes
    else:
        assert row.result is not None and row.valid
        assert math.isclose(row.result, expected * factor, rel_tol=1e-12)


def test_too_few_runs_cannot_be_scored(tmp_path: Path) -> None:
    org = _training_org(tmp_path / "Org", "resnet", [3.0, 3.0])
    (row,) = build_table([load_tree(org)]).rows
    assert row.result is None and not row.valid and "needs more than 2" in row.notes
    assert row.run_minutes == (3.0, 3.0) and row.scaling_factor == 1.0


# --------------------------------------------------------------------------- html


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.headers: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell)
            (self.rows[-1] if tag == "td" else self.headers).append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_html_page_shows_the_cells_and_escapes_text(golden_tree: Path) -> None:
    table = build_table([load_tree(golden_tree)])
    page = render_table_html(table)
    parser = _Cells()
    parser.feed(page)
    parser.close()
    assert "script" not in parser.tags and "<script>" not in page
    assert "http://" not in page and "https://" not in page and "src=" not in page
    assert parser.headers == [h for _, h in COLUMNS]
    body = [r for r in parser.rows if r]
    assert body == [[row_cells(r, exact=False)[k] for k, _ in COLUMNS] for r in table.rows]
    names = [cells[[k for k, _ in COLUMNS].index("system")] for cells in body]
    assert names.count(HOSTILE) == 2


def test_markdown_cells_cannot_break_the_table(golden_tree: Path) -> None:
    text = TABLE_EXPORTERS["md"].render(build_table([load_tree(golden_tree)]))
    widths = {line.replace("\\|", "").count("|") for line in text.splitlines()}
    assert widths == {len(COLUMNS) + 1}


# --------------------------------------------------------------------------- CLI


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_writes_the_format_of_the_suffix(
    golden_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "table.csv"
    assert cli.run(_args(str(golden_tree), "-o", str(out))) == 0
    assert f"wrote {out} (csv, 5 rows)" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0]["ID"] == "closed/OrgA/sysA/resnet50/Offline"
    train = next(r for r in rows if r["ID"] == "closed/OrgA/tbox/resnet")
    assert float(train["Result"]) == pytest.approx(33.5 / 3, rel=1e-12)
    assert (train["Units"], train["Run Times (min)"]) == (
        "minutes",
        "10.0; 12.5; failed; 11.0; 9.5",
    )


def test_cli_prints_json_on_stdout(golden_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(_args(str(golden_tree), "--format", "json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "mlmeter.submission_table" and len(doc["rows"]) == 5


def test_cli_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such"):
        cli.run(_args(str(tmp_path / "missing")))
    with pytest.raises(UsageError, match="create it first"):
        cli.run(_args(str(tmp_path), "-o", str(tmp_path / "no" / "t.md")))
    with pytest.raises(UsageError, match="use --format csv or json or md or html"):
        get_table_exporter("xlsx")
    with pytest.raises(SystemExit):
        _args(str(tmp_path), "--format", "xlsx")


def test_cli_reads_an_archive_like_its_folder(
    golden_tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "tree.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(golden_tree, arcname="tree")
    assert cli.run(_args(str(archive), "--format", "json")) == 0
    from_archive = json.loads(capsys.readouterr().out)
    assert cli.run(_args(str(golden_tree), "--format", "json")) == 0
    from_folder = json.loads(capsys.readouterr().out)
    assert from_archive["rows"] == from_folder["rows"]
    assert from_archive["sources"] == [str(archive)]


def test_csv_text_cannot_become_a_spreadsheet_formula(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _system(root, "open", "=HYPERLINK(1)", "s1", system_name="@SUM(A1)", framework="-x")
    _scenario(
        root,
        "open/=HYPERLINK(1)/results/s1/resnet50/Offline",
        {"result_validity": "VALID", "result_samples_per_second": 5.0},
    )
    text = TABLE_EXPORTERS["csv"].render(build_table([load_tree(root)]))
    row = next(csv.DictReader(io.StringIO(text)))
    assert (row["Organization"], row["System Name"]) == ("'=HYPERLINK(1)", "'@SUM(A1)")
    assert (row["Framework / Software"], row["Result"]) == ("'-x", "5.0")
