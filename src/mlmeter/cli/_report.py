"""The final table ``mlmeter run`` prints: result, headline metric, latencies, reasons."""

from __future__ import annotations

from mlmeter.loadgen import TestResult
from mlmeter.logfmt import PerformanceResult
from mlmeter.settings import Scenario, TestSettings
from mlmeter.workloads import AccuracyResult


def render_report(
    res: TestResult,
    settings: TestSettings,
    accuracy: AccuracyResult | None = None,
    power: str = "",
) -> str:
    """A plain-text report of one run; ``power`` is the ``--power`` line, if any."""
    lines = [f"mlmeter {settings.scenario.value} / {settings.mode.value}"]
    r = res.result
    if r is not None:
        lines += _result_lines(r, res.effective.scenario)
    else:
        lines.append(f"  accuracy log entries : {res.accuracy_entries}")
    if accuracy is not None:
        t = accuracy.target
        verdict = "PASS" if accuracy.passed else "FAIL"
        lines.append(
            f"  accuracy             : {accuracy.metric} {accuracy.value:.5g} "
            f"(reference {t.reference:.5g}, target {t.fraction:.1%} = {t.threshold:.5g}) "
            f"{verdict}"
        )
    if power:
        lines.append(power)
    if res.error is not None:
        lines.append(f"  error                : {res.error}")
    out = res.outputs
    lines.append(f"  logs                 : {out.summary.parent if out.summary else '-'}")
    return "\n".join(lines)


def _result_lines(r: PerformanceResult, scenario: Scenario) -> list[str]:
    lines = [f"  result               : {'VALID' if r.valid else 'INVALID'}"]
    lines.append(f"  {_headline(r, scenario)}")
    lat = r.query_latency or r.sample_latency
    for p in (0.5, 0.9, 0.99):
        lines.append(f"  p{p * 100:<4g} latency        : {_ms(lat.percentiles[p])}")
    lines.append(f"  queries / samples    : {r.query_count:,} / {r.sample_count:,}")
    for c in r.checks:
        if not c.met:
            lines.append(f"  INVALID because      : [{c.code}] {c.message}")
    return lines


def _headline(r: PerformanceResult, scenario: Scenario) -> str:
    if scenario is Scenario.OFFLINE:
        return f"samples per second   : {r.samples_per_second or 0:,.1f}"
    if scenario is Scenario.SERVER:
        return f"completed samples/s  : {r.completed_samples_per_sec or 0:,.2f}"
    es = r.early_stopping.estimate_ns
    est = _ms(es) if es is not None else "n/a (too few queries)"
    return f"early-stopping latency: {est}"


def _ms(ns: int) -> str:
    return f"{ns / 1e6:.3f} ms"
