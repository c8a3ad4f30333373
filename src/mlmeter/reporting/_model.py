"""The report as data: what every exporter writes and every plot reads.

``build_report(runs)`` turns loaded runs into a ``Report``: one ``RunReport`` per run
with its summary row (raw numbers, ns and per-second rates), every validity check,
problems, accuracy, notes, and the plotted series (``None`` without timings).
``Report.to_dict()`` is the versioned JSON document (``format`` ``"mlmeter.report"``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlmeter._version import __version__
from mlmeter.reporting._accuracy import AccuracyInfo
from mlmeter.reporting._load import RunData
from mlmeter.reporting._power import PowerInfo
from mlmeter.reporting._series import Curve, Histogram, cdf, histogram, outstanding, throughput
from mlmeter.reporting._timings import SampleTimings

REPORT_FORMAT = "mlmeter.report"
REPORT_VERSION = 1
_SYSTEM_KEYS = (
    "system_name",
    "host_processor_model_name",
    "host_processor_core_count",
    "host_memory_capacity",
    "accelerator_model_name",
    "operating_system",
    "framework",
)


@dataclass(frozen=True)
class SummaryRow:
    """One run in the summary table; None where the run does not have the value."""

    run: str
    sut: str
    scenario: str
    mode: str
    result: str  # "VALID", "INVALID", or "" for an accuracy run
    headline_name: str  # e.g. "samples/s", "early-stopping p90 latency"
    headline_value: float | None
    headline_unit: str  # "samples/s", "tokens/s" or "ns"
    latency_kind: str  # "query" (MultiStream) or "sample"
    p50_ns: int | None
    p90_ns: int | None
    p99_ns: int | None
    queries: int | None
    samples: int | None
    duration_ns: int | None
    accuracy_metric: str | None
    accuracy_value: float | None
    accuracy_result: str  # "PASS", "FAIL" or ""


@dataclass(frozen=True)
class CheckRow:
    """One validity rule of the run, as the loadgen reported it."""

    code: str
    met: bool
    message: str


@dataclass(frozen=True)
class RunPlots:
    """The series drawn for one run; latencies in ns, times in s from the test start."""

    latency_kind: str
    histogram: Histogram
    cdf: Curve
    throughput: Curve  # completed samples per second
    outstanding_queries: Curve
    outstanding_samples: Curve | None  # only when queries hold several samples
    source: str  # the timings file


@dataclass(frozen=True)
class RunReport:
    """Everything shown about one run."""

    name: str
    path: str
    summary: SummaryRow
    checks: tuple[CheckRow, ...]
    failed_rules: tuple[CheckRow, ...]
    problems: dict[str, Any]
    accuracy: AccuracyInfo | None
    system: dict[str, Any]
    provenance: dict[str, Any]
    notes: tuple[str, ...]
    plots: RunPlots | None
    power: PowerInfo | None = None  # left out of the JSON when None


@dataclass(frozen=True)
class Report:
    """The runs of one report, in the order given."""

    runs: tuple[RunReport, ...]
    generated_utc: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    tool_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        """The versioned, JSON-ready document."""
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "tool": {"name": "mlmeter", "version": self.tool_version},
            "generated_utc": self.generated_utc,
            "runs": [_run_dict(r) for r in self.runs],
        }


def _run_dict(r: RunReport) -> dict[str, Any]:
    doc = dataclasses.asdict(r)
    if doc["power"] is None:
        del doc["power"]  # runs without --power export as before
    return doc


def build_report(runs: Sequence[RunData], *, generated_utc: str | None = None) -> Report:
    """The report of ``runs``; ``generated_utc`` fixes the timestamp (golden tests)."""
    reports = tuple(run_report(r) for r in runs)
    return Report(reports) if generated_utc is None else Report(reports, generated_utc)


def run_report(run: RunData) -> RunReport:
    """The report of one run."""
    result = run.result or {}
    checks = tuple(
        CheckRow(c["code"], bool(c["met"]), c["message"]) for c in result.get("checks", [])
    )
    failed = (run.results.get("validity") or {}).get("failed_rules", [])
    return RunReport(
        name=run.name,
        path=str(run.path),
        summary=summary_row(run),
        checks=checks,
        failed_rules=tuple(CheckRow(f["code"], False, f["message"]) for f in failed),
        problems=dict(run.results.get("problems") or {}),
        accuracy=run.accuracy,
        system={k: run.system[k] for k in _SYSTEM_KEYS if k in run.system},
        provenance=dict(run.results.get("provenance") or {}),
        notes=run.notes,
        plots=None if run.timings is None else run_plots(run.timings, run.scenario),
        power=run.power,
    )


def summary_row(run: RunData) -> SummaryRow:
    """The summary-table row of one run."""
    r = run.result or {}
    validity = run.results.get("validity")
    lat = r.get("query_latency") or r.get("sample_latency") or {}
    pct = lat.get("percentiles", {})
    name, value, unit = _headline(run)
    acc = run.accuracy
    return SummaryRow(
        run=run.name,
        sut=run.sut_name,
        scenario=run.scenario,
        mode=run.mode,
        result="" if validity is None else ("VALID" if validity["valid"] else "INVALID"),
        headline_name=name,
        headline_value=value,
        headline_unit=unit,
        latency_kind="query" if r.get("query_latency") else "sample",
        p50_ns=pct.get("0.5"),
        p90_ns=pct.get("0.9"),
        p99_ns=pct.get("0.99"),
        queries=r.get("query_count"),
        samples=r.get("sample_count"),
        duration_ns=r.get("duration_ns"),
        accuracy_metric=None if acc is None else acc.metric,
        accuracy_value=None if acc is None else acc.value,
        accuracy_result="" if acc is None else acc.verdict,
    )


def _headline(run: RunData) -> tuple[str, float | None, str]:
    """The scenario's headline metric: (name, value, unit)."""
    r = run.result
    if r is None:
        return ("", None, "")
    tokens = r.get("tokens") or {}
    if run.scenario in ("Offline", "Server") and tokens.get("tokens_per_second") is not None:
        return ("tokens/s", float(tokens["tokens_per_second"]), "tokens/s")
    if run.scenario == "Offline":
        return ("samples/s", r.get("samples_per_second"), "samples/s")
    if run.scenario == "Server":
        return ("completed samples/s", r.get("completed_samples_per_sec"), "samples/s")
    p = run.results.get("effective", {}).get("target_latency_percentile", 0.9)
    label = f"p{float(p) * 100:g} latency"
    estimate = (r.get("early_stopping") or {}).get("estimate_ns")
    if estimate is not None:
        return (f"early-stopping {label}", float(estimate), "ns")
    target = r.get("target_percentile_latency_ns")
    return (label, None if target is None else float(target), "ns")


def run_plots(t: SampleTimings, scenario: str) -> RunPlots:
    """The plotted series of one run's timings."""
    kind = "query" if scenario == "MultiStream" else "sample"
    lat = t.query_latencies() if kind == "query" else t.sample_latencies()
    end = float(max(int(t.completed_ns.max()), int(t.issued_ns.max())))
    _, q_issued, q_done = t.queries()
    several = t.query_seq.size > q_issued.size
    return RunPlots(
        latency_kind=kind,
        histogram=histogram(lat),
        cdf=cdf(lat),
        throughput=throughput(t.completed_ns, end),
        outstanding_queries=outstanding(q_issued, q_done, end),
        outstanding_samples=outstanding(t.issued_ns, t.completed_ns, end) if several else None,
        source=t.source,
    )
