"""``mlmeter report``: the page, the tables and the data of real runs.

The runs come from ``conftest.py`` (real ``mlmeter run`` calls). The page must be one
self-contained file: no URL at all, one ``<svg>`` per plot, every failed rule with its
message, and plots drawn from timings that agree exactly with results.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlmeter.cli import report as report_cmd
from mlmeter.errors import UsageError, UserError
from mlmeter.logfmt import TIMINGS_FILE
from mlmeter.reporting import (
    REPORT_FORMAT,
    build_report,
    get_exporter,
    load_run,
    load_runs,
)
from mlmeter.stats import percentile

PLOTS_PER_RUN = 4
_URL = re.compile(r"https?://|\bsrc\s*=|<link\b|@import|url\(", re.IGNORECASE)


def _results(run: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run / "results.json").read_text())
    return doc


def _html(*paths: Path) -> str:
    return get_exporter("html").render(build_report(load_runs(paths)))


def _embedded_data(page: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert m, "the page embeds its data"
    doc: dict[str, Any] = json.loads(m.group(1))
    return doc


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mlmeter")
    report_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", *argv])
    code: int = args.func(args)
    return code


# ---------------------------------------------------------------- the page


def test_page_of_two_runs_has_summary_validity_and_plots(runs: dict[str, Path]) -> None:
    server, single = runs["server"], runs["single"]
    page = _html(server, single)
    verdicts = {}
    for run in (server, single):
        doc = _results(run)
        verdict = "VALID" if doc["validity"]["valid"] else "INVALID"
        verdicts[run.name] = verdict
        assert '<a href="#run-' in page and f">{run.name}</a>" in page
        assert f'<td class="result {verdict}">{verdict}</td>' in page
        for rule in doc["validity"]["failed_rules"]:  # every failed rule, with its message
            assert f"<code>{rule['code']}</code>: {rule['message']}" in page
    assert sorted(verdicts.values()) == ["INVALID", "VALID"], verdicts
    assert page.count("<svg") == 2 * PLOTS_PER_RUN + 1  # + the overlaid CDFs
    assert page.count('<figure class="plot-box">') == page.count("<svg")
    assert "Latency CDF, all runs" in page
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")


def test_page_is_self_contained(runs: dict[str, Path]) -> None:
    page = _html(runs["server"], runs["single"], runs["offline"])
    found = _URL.findall(page)
    assert not found, f"the page must work offline, found {found}"
    assert "<style>" in page and "<script>" in page  # inline only


def test_page_embeds_the_exported_data(runs: dict[str, Path]) -> None:
    report = build_report(load_runs([runs["server"], runs["single"]]))
    page = get_exporter("html").render(report)
    data = _embedded_data(page)
    assert data == json.loads(get_exporter("json").render(report))
    assert data["format"] == REPORT_FORMAT and data["version"] == 1
    assert [r["name"] for r in data["runs"]] == ["server", "single"]


def test_trace_latencies_agree_with_results_json(runs: dict[str, Path]) -> None:
    for path in (runs["server"], runs["single"]):
        run = load_run(path)
        assert run.timings is not None and run.result is not None
        lat = np.sort(run.timings.sample_latencies())
        stats = run.result["sample_latency"]
        assert lat.size == stats["count"] == run.result["sample_count"]
        for p, value in stats["percentiles"].items():
            assert percentile(lat, float(p)) == value, p
        plots = build_report([run]).runs[0].plots
        assert plots is not None
        assert sum(plots.histogram.counts) + plots.histogram.overflow == lat.size
        assert plots.cdf.y[-1] == 1.0 and plots.cdf.x[-1] == lat[-1]


def test_run_without_timings_shows_stats_and_how_to_get_plots(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    """A run too large for the timings file (and without --trace) still gets its stats."""
    offline = tmp_path / "offline-no-timings"
    shutil.copytree(runs["offline"], offline)
    (offline / TIMINGS_FILE).unlink()
    page = _html(runs["single"], offline)
    section = page[page.index('id="run-2"') :]
    assert "--trace" in section and "<svg" not in section
    pct = _results(offline)["result"]["sample_latency"]["percentiles"]
    row = build_report([load_run(offline)]).runs[0].summary
    assert (row.p50_ns, row.p90_ns, row.p99_ns) == (pct["0.5"], pct["0.9"], pct["0.99"])
    assert page.count("<svg") == PLOTS_PER_RUN  # the traced run only; no comparison plot


def test_accuracy_txt_gives_metric_and_verdict(runs: dict[str, Path]) -> None:
    report = build_report([load_run(runs["offline"])])
    row = report.runs[0].summary
    assert (row.accuracy_metric, row.accuracy_value, row.accuracy_result) == ("mAP", 0.3752, "PASS")
    assert "| mAP 0.3752 PASS |" in get_exporter("md").render(report)
    page = get_exporter("html").render(report)
    assert '<td class="accuracy PASS">mAP 0.3752 PASS</td>' in page
    assert "<th>iou_threshold</th><td>0.5</td>" in page


def test_names_and_messages_are_escaped(runs: dict[str, Path], tmp_path: Path) -> None:
    odd = tmp_path / '<i>a|b&"c'
    shutil.copytree(runs["single"], odd)
    report = build_report([load_run(odd)])
    page = get_exporter("html").render(report)
    assert "<i>" not in page and "&lt;i&gt;a|b&amp;&quot;c" in page
    assert "a\\|b" in get_exporter("md").render(report)


# ---------------------------------------------------------------- the command


def test_cli_prints_a_markdown_table_by_default(
    runs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli([str(runs["server"]), str(runs["single"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| Run | Workload / SUT | Scenario | Mode | Result |")
    assert out[2].startswith("| server | FixedLatencySUT") and out[3].startswith("| single |")


def test_cli_picks_the_format_from_the_output_suffix(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(runs["server"]), str(runs["single"])]
    for name in ("report.html", "report.json", "report.csv", "report.md"):
        assert _cli([*paths, "-o", str(tmp_path / name)]) == 0
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    assert json.loads((tmp_path / "report.json").read_text())["format"] == REPORT_FORMAT
    rows = list(csv.DictReader(io.StringIO((tmp_path / "report.csv").read_text())))
    assert [r["run"] for r in rows] == ["server", "single"]
    assert (tmp_path / "report.md").read_text().startswith("| Run |")
    assert _cli([*paths, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("run,sut,scenario,mode,result,")


@pytest.mark.parametrize(
    ("make", "fix"),
    [
        (lambda d: d / "missing", "--output folder of `mlmeter run`"),
        (lambda d: d, "has no results.json"),
        (lambda d: (d / "f.txt", (d / "f.txt").write_text("x"))[0], "not a folder"),
    ],
)
def test_a_bad_run_folder_is_a_one_line_usage_error(tmp_path: Path, make: Any, fix: str) -> None:
    with pytest.raises(UsageError) as err:
        _cli([str(make(tmp_path))])
    assert fix in str(err.value) and "\n" not in str(err.value)


def test_bad_format_and_output_folder_are_usage_errors(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="use --format html or json or csv or md"):
        _cli([str(runs["single"]), "--format", "pdf"])
    with pytest.raises(UsageError, match="does not exist"):
        _cli([str(runs["single"]), "-o", str(tmp_path / "nowhere" / "r.html")])


def test_a_newer_results_file_is_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "future"
    shutil.copytree(runs["offline"], run)
    doc = _results(run) | {"version": 99}
    (run / "results.json").write_text(json.dumps(doc))
    with pytest.raises(UserError, match="upgrade mlmeter"):
        load_run(run)


def test_main_registers_report(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from mlmeter.cli.main import build_parser, main

    try:
        build_parser().parse_args(["report", "x"])
    except SystemExit:
        pytest.skip("cli/main.py does not register `report` yet (report_cmd.add_parser(sub))")
    assert main(["report", str(runs["single"])]) == 0
    assert main(["report", str(runs["single"] / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
