"""The parts of a report: timings readers, plotted series, SVG, accuracy.txt, goldens.

Golden files live in ``tests/reporting/golden/``; regenerate them with
``UPDATE_GOLDEN=1 pytest tests/reporting/test_report_parts.py`` and review the diff.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _golden import check_golden
from mlmeter.errors import UserError
from mlmeter.reporting import SampleTimings, build_report, get_exporter, load_run
from mlmeter.reporting._accuracy import read_accuracy_txt
from mlmeter.reporting._plots import (
    Series,
    histogram_svg,
    lines_svg,
    log_ticks,
    nice_range,
    nice_step,
    tick_text,
)
from mlmeter.reporting._series import cdf, histogram, outstanding, throughput
from mlmeter.reporting._timings import read_timings_npz, read_trace_timings

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"


# ---------------------------------------------------------------- timings


def test_trace_reader_gives_scheduled_issue_and_completion_times() -> None:
    t = read_trace_timings(ROOT / "golden" / "trace.json")
    assert t.query_seq.tolist() == [0, 1, 2]
    assert t.scheduled_ns.tolist() == [130_906, 1_928_026, 1_999_000]
    assert t.issued_ns.tolist() == [130_976, 2_003_040, 1_999_500]
    assert t.completed_ns.tolist() == [145_077, 2_007_546, -1]  # the last never answered
    assert t.sample_latencies().tolist() == [14_171, 79_520]


def test_trace_reader_reads_an_official_style_line(tmp_path: Path) -> None:
    # the official trace: not valid JSON overall, other events, a space before "ph"
    path = tmp_path / "mlperf_log_trace.json"
    path.write_text(
        '{ "traceEvents": [\n{"name":"IssueQuery","ph":"X","ts":1.0,"dur":2},\n'
        '{"name":"Sample","cat":"default","ph":"b","pid":7,"tid":8,"id":0,"ts":5.5,'
        '"args":{"sample_seq":0,"query_seq":3,"sample_idx":1,"issue_start_ns":10,'
        ' "complete_ns":1500}},\n{"name":"Sample","ph":"e", "pid":7,"id":0,"ts":7.0},\n'
    )
    t = read_trace_timings(path)
    assert t.query_seq.tolist() == [3]
    assert (t.scheduled_ns[0], t.issued_ns[0], t.completed_ns[0]) == (5500, 5510, 7000)


def test_query_latency_is_the_slowest_sample() -> None:
    seq = np.array([0, 0, 1, 1, 2], dtype=np.int64)
    sched = np.array([0, 0, 100, 100, 200], dtype=np.int64)
    done = np.array([30, 50, 120, -1, 260], dtype=np.int64)
    t = SampleTimings(seq, sched, sched, done, "test")
    assert t.query_latencies().tolist() == [50, 60]  # query 1 has an unanswered sample
    assert t.queries()[2].tolist() == [50, -1, 260]


def _write_npz(path: Path, version: int = 1) -> None:
    np.savez(
        path,
        format=np.array("mlmeter.timings"),
        version=np.array(version, dtype=np.int64),
        query_start=np.array([0, 2, 3], dtype=np.int64),
        scheduled_ns=np.array([0, 100], dtype=np.int64),
        issued_ns=np.array([5, 104], dtype=np.int64),
        completed_ns=np.array([40, 70, -1], dtype=np.int64),
    )


def test_compact_timings_file_reads_and_newer_versions_are_refused(tmp_path: Path) -> None:
    _write_npz(tmp_path / "t.npz")
    t = read_timings_npz(tmp_path / "t.npz")
    assert t.query_seq.tolist() == [0, 0, 1]
    assert t.scheduled_ns.tolist() == [0, 0, 100] and t.issued_ns.tolist() == [5, 5, 104]
    assert t.sample_latencies().tolist() == [40, 70]
    _write_npz(tmp_path / "new.npz", version=2)
    with pytest.raises(UserError, match="upgrade mlmeter"):
        read_timings_npz(tmp_path / "new.npz")


# ---------------------------------------------------------------- series


def test_histogram_cuts_far_outliers_into_overflow() -> None:
    lat = np.concatenate([np.arange(1000, 3000, dtype=np.int64), [10**6]])
    h = histogram(lat)
    assert (h.edges_ns[0], h.edges_ns[-1]) == (1000, 2998)  # up to the p99.9
    assert h.overflow == 2 and sum(h.counts) == lat.size - 2
    assert histogram(lat[:-1]).overflow == 0  # no far outlier: the full range
    small = np.concatenate([np.arange(1000, 1200, dtype=np.int64), [10**6]])
    assert histogram(small).overflow == 2  # below 1000 values the cut is at the p99


def test_cdf_is_monotonic_and_ends_at_the_maximum() -> None:
    lat = np.random.default_rng(1).integers(1, 10**6, 5000).astype(np.int64)
    c = cdf(lat, points=100)
    assert len(c.x) <= 100 and c.x[0] == lat.min() and c.x[-1] == lat.max()
    assert list(c.x) == sorted(c.x) and list(c.y) == sorted(c.y) and c.y[-1] == 1.0


def test_outstanding_on_a_known_schedule() -> None:
    # two items: [0, 20 ms) and [10 ms, 30 ms), so 1, 2, 1 outstanding by thirds of 30 ms
    c = outstanding(np.array([0, 10_000_000]), np.array([20_000_000, 30_000_000]), 30e6, bins=3)
    assert c.x == pytest.approx((0.0, 0.01, 0.02, 0.03))
    assert c.y == pytest.approx((1.0, 2.0, 1.0, 1.0))


_times = st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**8)), min_size=1, max_size=200)


@settings(max_examples=60, deadline=None)
@given(_times, st.integers(1, 120))
def test_outstanding_area_is_the_total_time_in_flight(
    items: list[tuple[int, int]], bins: int
) -> None:
    issued = np.array([a for a, _ in items], dtype=np.int64)
    done = issued + np.array([d for _, d in items], dtype=np.int64)
    end = float(done.max())
    c = outstanding(issued, done, end, bins=bins)
    widths = np.diff(np.array(c.x) * 1e9)
    area = float(np.dot(widths, np.array(c.y[:-1])))
    assert area == pytest.approx(float((done - issued).sum()), rel=1e-6, abs=1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=300), st.integers(1, 120))
def test_throughput_integrates_to_the_completed_count(done: list[int], bins: int) -> None:
    completed = np.array(done, dtype=np.int64)
    c = throughput(completed, float(completed.max()) + 1.0, bins=bins)
    widths = np.diff(np.array(c.x))
    assert float(np.dot(widths, np.array(c.y[:-1]))) == pytest.approx(len(done), rel=1e-9)


# ---------------------------------------------------------------- SVG


@pytest.mark.parametrize(
    ("span", "step"), [(1.0, 0.2), (7.0, 2.0), (1000.0, 200.0), (12.0, 2.5), (0.03, 0.01)]
)
def test_nice_step(span: float, step: float) -> None:
    assert nice_step(span) == pytest.approx(step)


def test_nice_range_and_tick_text() -> None:
    assert nice_range(0.0, 47.0) == (0.0, 50.0, 10.0)
    assert [tick_text(v, 250.0) for v in (0.0, 1250.0)] == ["0", "1,250"]
    assert [tick_text(v, 0.25) for v in (0.25, 1.0)] == ["0.25", "1.00"]
    assert log_ticks(0.9, 600.0) == [1.0, 10.0, 100.0]
    assert log_ticks(1.0, 30.0) == [1.0, 2.0, 5.0, 10.0, 20.0]


def test_svg_text_is_escaped_and_has_no_url() -> None:
    svg = lines_svg(
        [Series("<a&b>", [1.0, 2.0], [0.5, 1.0]), Series('"q"', [1.0, 3.0], [0.0, 1.0])],
        title="t<",
        x_label="x & y",
        y_label="y",
    )
    assert "<a&b>" not in svg and "&lt;a&amp;b&gt;" in svg and "&quot;q&quot;" in svg
    assert not re.search(r"https?://", svg) and svg.count("<polyline") == 2
    bars = histogram_svg([0.0, 1.0, 2.0], [3, 4], title="h", x_label="x", y_label="n", unit="ms")
    assert bars.count('<rect class="bar"') == 2 and "0 to 1 ms: 3" in bars


# ---------------------------------------------------------------- accuracy.txt


def test_accuracy_txt_layouts(tmp_path: Path) -> None:
    path = tmp_path / "accuracy.txt"
    path.write_text("WER = 12.5\nreference = 10\nresult = FAIL\nhash=ab\n")
    acc = read_accuracy_txt(path)
    assert (acc.metric, acc.value, acc.verdict) == ("WER", 12.5, "FAIL")
    assert acc.details == (("reference", "10"),)
    path.write_text("{'mAP': 37.55}\n")  # an official script's output: kept as text
    acc = read_accuracy_txt(path)
    assert (acc.metric, acc.verdict, acc.text) == (None, "", "{'mAP': 37.55}")


# ---------------------------------------------------------------- goldens


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_golden_exports(fmt: str, tmp_path: Path) -> None:
    run = tmp_path / "golden-run"
    run.mkdir()
    shutil.copy(ROOT / "golden" / "results.json", run / "results.json")
    shutil.copy(ROOT / "golden" / "trace.json", run / "mlperf_log_trace.json")
    (run / "accuracy.txt").write_text("top1 = 0.7649\nresult = PASS\n")
    report = build_report([load_run(run)], generated_utc="2026-01-01T00:00:00Z")
    text = get_exporter(fmt).render(report).replace(str(run), "RUN")
    text = re.sub(r'"version": "[^"]+"', '"version": "VERSION"', text)
    check_golden(GOLDEN / f"report.{fmt}", text)
