"""What a power run writes, every file atomically:

* ``OUTDIR/spl.txt`` (the testing samples, all of them) and ``OUTDIR/ranging/spl.txt``
  (a director's own downloaded ``ranging/spl.txt`` is kept as it came);
* ``OUTDIR/power/power.json``: ``{"format": "mlmeter.power", "version": 1, ...}``;
* for a PTDaemon analyzer ``OUTDIR/power/ptd_messages.json`` and ``OUTDIR/ptd_out.txt``;
* a ``Power (mlmeter):`` block appended to the testing run's summary, after the official
  content (which stays byte-identical), and a ``power`` section in its ``results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmeter._version import __version__
from mlmeter.logfmt import atomic_write_text
from mlmeter.power._spl import write_spl
from mlmeter.power._timefmt import format_power_time

if TYPE_CHECKING:
    from mlmeter.power._run import PhaseResult, PowerRunResult

POWER_FORMAT = "mlmeter.power"
POWER_VERSION = 1
POWER_JSON = "power/power.json"
SUMMARY_HEADER = "Power (mlmeter):"


def write_power_files(outdir: Path, run: PowerRunResult) -> None:
    """Every power file of ``run`` under ``outdir`` (see the module docstring)."""
    for p in run.phases:
        official = p.phase == "ranging" and run.meter.kind == "director"
        path = outdir / ("ranging/spl.txt" if p.phase == "ranging" else "spl.txt")
        if not (official and path.is_file()):
            write_spl(path, p.samples)
    _write_json(outdir / POWER_JSON, power_document(run))
    if run.meter.kind == "ptd" and run.extras is not None:
        _write_json(outdir / "power/ptd_messages.json", run.extras.get("messages", []))
        if "ptd_out" in run.extras:
            atomic_write_text(outdir / "ptd_out.txt", run.extras["ptd_out"])
    testing = run.phase("testing")
    if testing is not None:
        _append_summary(testing.result.outputs.summary, summary_block(run))
        _merge_results(testing.result.outputs.results_json, results_section(run))


def _write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")


def power_document(run: PowerRunResult) -> dict[str, Any]:
    """``power.json``: meter, interval, each phase's window and stats, the metric,
    ranging vs testing, the problems and the verdict."""
    m = run.meter
    return {
        "format": POWER_FORMAT,
        "version": POWER_VERSION,
        "tool": {"name": "mlmeter", "version": __version__},
        "meter": {
            "kind": m.kind,
            "model": m.model,
            "scope": m.scope,
            "valid_for_closed": m.valid_for_closed,
            "needs_ranging": m.needs_ranging,
            "details": _plain(m.details),
        },
        "scenario": run.scenario,
        "interval_s": run.interval_s,
        "phases": {p.phase: _phase_doc(p) for p in run.phases},
        "metric": _metric_doc(run),
        "ranging_vs_testing": _ranging_doc(run),
        "clock": run.clock,
        "problems": list(run.problems),
        "error": run.error,
        "valid": run.valid,
    }


def _phase_doc(p: PhaseResult) -> dict[str, Any]:
    s = p.stats
    doc: dict[str, Any] = {"mark": p.mark, "samples_total": len(p.samples)}
    if s is not None:
        w = s.window
        doc["window"] = {
            "begin": format_power_time(w.begin_utc),
            "end": format_power_time(w.end_utc),
            "begin_utc": w.begin_utc,
            "end_utc": w.end_utc,
            "duration_s": w.duration_s,
        }
        doc |= {
            "samples_in_window": s.samples,
            "expected_samples": s.expected_samples,
            "coverage": s.coverage,
            "avg_watts": s.avg_watts,
            "min_watts": s.min_watts,
            "max_watts": s.max_watts,
            "energy_j": s.energy_j,
        }
    doc["problems"] = list(p.problems)
    return doc


def _metric_doc(run: PowerRunResult) -> dict[str, Any] | None:
    m = run.metric
    if m is None:
        return None
    return {
        "scenario": m.scenario,
        "value": m.metric,
        "unit": m.metric_unit,
        "avg_watts": m.avg_watts,
        "duration_s": m.duration_s,
        "energy_j": m.energy_j,
        "samples_per_joule": m.samples_per_joule,
    }


def _ranging_doc(run: PowerRunResult) -> dict[str, Any] | None:
    r, t = run.phase("ranging"), run.phase("testing")
    rw = None if r is None or r.stats is None else r.stats.avg_watts
    tw = None if t is None or t.stats is None else t.stats.avg_watts
    if rw is None or tw is None or rw <= 0:
        return None
    delta = round((round(tw, 5) / round(rw, 5) - 1) * 100, 2)  # as compliance/check.py
    return {"ranging_watts": rw, "testing_watts": tw, "delta_pct": delta}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def meter_text(run: PowerRunResult) -> str:
    """``sim (simulated (constant)), not valid for a closed power submission``."""
    m = run.meter
    closed = "valid" if m.valid_for_closed else "not valid"
    return f"{m.kind} ({m.model}), {closed} for a closed power submission"


def verdict_text(run: PowerRunResult) -> str:
    """``VALID`` or ``INVALID (reason; reason)``."""
    return "VALID" if run.valid else f"INVALID ({'; '.join(run.reasons)})"


def summary_block(run: PowerRunResult) -> str:
    """The lines appended to ``mlperf_log_summary.txt``."""
    lines = ["", SUMMARY_HEADER, f"  Meter : {meter_text(run)}"]
    testing = run.phase("testing")
    s = None if testing is None else testing.stats
    if s is not None:
        lines.append(
            f"  Samples in window : {s.samples} of {s.expected_samples:.0f} expected"
            f" (coverage {s.coverage * 100:.1f} %)"
        )
    m = run.metric
    if m is not None:
        lines.append(f"  Average power (W) : {m.avg_watts:.3f}")
        lines.append(f"  Energy (J) : {m.energy_j:.3f}")
        if m.metric_unit == "millijoules":
            lines.append(f"  Energy per query (mJ) : {m.metric:.3f}")
        lines.append(f"  Samples per joule : {m.samples_per_joule:.6g}")
    lines.append(f"  Power result : {verdict_text(run)}")
    return "\n".join(lines) + "\n"


def _append_summary(path: Path | None, block: str) -> None:
    if path is None or not path.is_file():
        return
    atomic_write_text(path, path.read_text(encoding="utf-8") + block)


def results_section(run: PowerRunResult) -> dict[str, Any]:
    """The ``power`` section of ``results.json``: the verdict and the headline numbers."""
    m = run.meter
    return {
        "file": POWER_JSON,
        "format": POWER_FORMAT,
        "version": POWER_VERSION,
        "meter": {
            "kind": m.kind,
            "model": m.model,
            "scope": m.scope,
            "valid_for_closed": m.valid_for_closed,
        },
        "metric": _metric_doc(run),
        "problems": list(run.problems),
        "error": run.error,
        "valid": run.valid,
    }


def _merge_results(path: Path | None, section: dict[str, Any]) -> None:
    if path is None or not path.is_file():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["power"] = section
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
