"""After a run: ``llm_metrics.json`` in the run folder and the lines printed to stdout."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeter.loadgen import TestResult
from mlmeter.suts._openai_client import Stream
from mlmeter.workloads.llm import _metrics as m
from mlmeter.workloads.llm._tokenizer import Counter as TokenCounter

FORMAT = "mlmeter-llm-metrics"
VERSION = 1
FILE_NAME = "llm_metrics.json"


@dataclass(frozen=True)
class LlmReport:
    """The metrics of one run, their text, and why the run is INVALID (if it is)."""

    metrics: dict[str, Any]
    lines: list[str]
    problems: list[str] = field(default_factory=list)
    path: Path | None = None

    @property
    def valid(self) -> bool:
        """False when a request failed."""
        return not self.problems


def build_metrics(
    result: TestResult,
    streams: list[Stream],
    bounds: m.Bounds,
    counter: tuple[str, TokenCounter | None],
    about: dict[str, Any],
) -> dict[str, Any]:
    """The content of ``llm_metrics.json``."""
    samples = m.per_sample(result, streams)
    faults = m.fault_counts(streams)
    return {
        "format": FORMAT,
        "version": VERSION,
        **about,
        "scenario": result.effective.scenario.value,
        "latency_origin": samples.origin,
        "requests": {"issued": len(streams), "failed": sum(faults.values())},
        "faults": faults,
        "ttft": m.latency_summary(samples.ttft[samples.good]),
        "tpot": m.latency_summary(samples.tpot[samples.good]),
        "itl": m.latency_summary(m.inter_token_latencies(streams)),
        "latency": m.latency_summary(samples.latency[samples.good]),
        "throughput": m.throughput(streams),
        "goodput": m.goodput(samples, bounds),
        "token_counts": m.reconcile(streams, *counter),
    }


def problems_of(metrics: dict[str, Any]) -> list[str]:
    """Why the run is INVALID: failed requests, with the count per reason."""
    faults = metrics["faults"]
    if not faults:
        return []
    detail = ", ".join(f"{reason}: {n}" for reason, n in faults.items())
    return [f"{sum(faults.values())} request(s) failed ({detail})"]


def render(metrics: dict[str, Any], problems: list[str]) -> list[str]:
    """The stdout block."""
    g, t, tc = metrics["goodput"], metrics["throughput"], metrics["token_counts"]
    req = metrics["requests"]
    lines = [
        f"LLM client ({metrics['api']} -> {metrics['endpoint']}, model {metrics['model']})",
        f"  requests   : {req['issued']} issued, {req['failed']} failed",
        _stat_line("TTFT", metrics["ttft"], f"from the {metrics['latency_origin']} time"),
        _stat_line("TPOT", metrics["tpot"], ""),
        _stat_line("ITL", metrics["itl"], ""),
        f"  throughput : {t['tokens_per_s']:.1f} tokens/s, {t['requests_per_s']:.2f} requests/s",
        f"  goodput    : {g['value']:.4f} ({g['good']}/{g['of']} requests with TTFT <= "
        f"{g['ttft_bound_ms']:g} ms and TPOT <= {g['tpot_bound_ms']:g} ms)",
        f"  tokens     : server {tc['server_total']}, client ({tc['client_count']}) "
        f"{tc['client_total']}; {tc['disagreements']} of {tc['compared']} requests disagree"
        + (f", {tc['missing_usage']} without usage" if tc["missing_usage"] else ""),
    ]
    cal = metrics.get("calibration")
    if cal:
        lines.append(
            f"  client     : ceiling {cal['requests_per_s']:.0f} requests/s "
            f"(calibrated: {cal['workers']} worker(s), concurrency {cal['concurrency']})"
        )
    lines += [f"  warning    : {w}" for w in metrics.get("warnings", [])]
    lines += [f"  INVALID    : {p}" for p in problems]
    return lines


def _stat_line(label: str, stats: dict[str, float], note: str) -> str:
    if not stats.get("count"):
        return f"  {label:<11}: no data"
    keys = ("p50_ms", "p90_ms", "p99_ms", "max_ms")
    body = "  ".join(f"{k[:-3]} {stats[k]:.2f}" for k in keys)
    return f"  {label:<11}: {body} ms" + (f" ({note})" if note else "")


def write_metrics(outdir: Path, metrics: dict[str, Any]) -> Path:
    """Write ``llm_metrics.json`` atomically; return its path."""
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / FILE_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
