"""Human-readable numbers for the summary table (Markdown and HTML share them)."""

from __future__ import annotations

from mlmeter.reporting._model import SummaryRow

#: (key, header) of the summary table, in order
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run", "Run"),
    ("sut", "Workload / SUT"),
    ("scenario", "Scenario"),
    ("mode", "Mode"),
    ("result", "Result"),
    ("headline", "Headline metric"),
    ("p50", "p50"),
    ("p90", "p90"),
    ("p99", "p99"),
    ("queries", "Queries"),
    ("duration", "Duration"),
    ("accuracy", "Accuracy"),
)
DASH = "-"
# (name, ns per unit), largest first
_TIME_UNITS: tuple[tuple[str, float], ...] = (("s", 1e9), ("ms", 1e6), ("µs", 1e3), ("ns", 1.0))


def time_unit(ns: float) -> tuple[str, float]:
    """The unit that shows ``ns`` with 1 to 3 digits before the point."""
    for name, scale in _TIME_UNITS:
        if abs(ns) >= scale:
            return name, scale
    return "ns", 1.0


def fmt_ns(ns: float | None) -> str:
    """``1089606`` -> ``1.090 ms``."""
    if ns is None:
        return DASH
    unit, scale = time_unit(ns)
    return f"{_sig(ns / scale)} {unit}"


def fmt_rate(value: float | None, unit: str) -> str:
    """``1895.27`` -> ``1,895.3 samples/s``."""
    return DASH if value is None else f"{value:,.1f} {unit}"


def fmt_duration(ns: int | None) -> str:
    """Seconds with 3 decimals."""
    return DASH if ns is None else f"{ns / 1e9:,.3f} s"


def summary_cells(row: SummaryRow) -> dict[str, str]:
    """Column key -> the text of its cell."""
    return {
        "run": row.run,
        "sut": row.sut,
        "scenario": row.scenario,
        "mode": row.mode,
        "result": row.result or DASH,
        "headline": headline_text(row),
        "p50": fmt_ns(row.p50_ns),
        "p90": fmt_ns(row.p90_ns),
        "p99": fmt_ns(row.p99_ns),
        "queries": DASH if row.queries is None else f"{row.queries:,}",
        "duration": fmt_duration(row.duration_ns),
        "accuracy": accuracy_text(row),
    }


def headline_text(row: SummaryRow) -> str:
    """``samples/s: 1,895.3`` or ``early-stopping p90 latency: 1.110 ms``."""
    if not row.headline_name:
        return DASH
    if row.headline_unit == "ns":
        value = fmt_ns(row.headline_value)
    else:
        value = DASH if row.headline_value is None else f"{row.headline_value:,.1f}"
    return f"{row.headline_name}: {value}"


def accuracy_text(row: SummaryRow) -> str:
    """``mAP 0.3752 PASS``, or ``-`` without accuracy.txt."""
    parts = []
    if row.accuracy_metric is not None and row.accuracy_value is not None:
        parts.append(f"{row.accuracy_metric} {row.accuracy_value:.5g}")
    if row.accuracy_result:
        parts.append(row.accuracy_result)
    return " ".join(parts) or DASH


def _sig(x: float) -> str:
    """Three decimals below 10, two below 100, one above."""
    digits = 3 if abs(x) < 10 else 2 if abs(x) < 100 else 1
    return f"{x:.{digits}f}"
