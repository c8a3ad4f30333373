"""Power in reports: the ``power`` section of ``results.json`` (``mlmeter run --power``) and
the power over time, from ``spl.txt`` inside the run's window.

The series' x is seconds since the test start: ``t - power_begin``, the same origin as the
throughput series (the loadgen stamps ``power_begin`` at the start its timings count from),
so the two plots line up. Runs without power have ``power = None`` and the exports show
nothing of it (the JSON leaves the key out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.errors import UserError
from mlmeter.power import PowerWindow, in_window, read_spl
from mlmeter.reporting._series import Curve

SPL_FILE = "spl.txt"
POWER_JSON = "power/power.json"
MAX_POINTS = 400
CSV_FIELDS = (
    "power_meter",
    "power_avg_watts",
    "power_energy_j",
    "power_metric",
    "power_metric_unit",
    "power_samples_per_joule",
    "power_result",
)


@dataclass(frozen=True)
class PowerInfo:
    """A run's power result and its power over time (W, x in s from the test start)."""

    meter: str  # kind: sim, rapl, nvml, ptd, director, ...
    meter_model: str
    valid_for_closed: bool
    valid: bool
    avg_watts: float | None
    energy_j: float | None
    metric: float | None  # W (Offline/Server) or mJ per query (SingleStream/MultiStream)
    metric_unit: str
    samples_per_joule: float | None
    problems: tuple[str, ...]
    series: Curve

    @property
    def verdict(self) -> str:
        """``VALID`` or ``INVALID``."""
        return "VALID" if self.valid else "INVALID"


def load_power(run_dir: Path, results: dict[str, Any], notes: list[str]) -> PowerInfo | None:
    """The run's power, or None when it ran without ``--power``."""
    section = results.get("power")
    if not isinstance(section, dict):
        return None
    metric = section.get("metric") or {}
    meter = section.get("meter") or {}
    problems = [str(p) for p in section.get("problems", [])]
    if section.get("error"):
        problems.insert(0, str(section["error"]))
    return PowerInfo(
        meter=str(meter.get("kind", "?")),
        meter_model=str(meter.get("model", "")),
        valid_for_closed=bool(meter.get("valid_for_closed", False)),
        valid=bool(section.get("valid", False)),
        avg_watts=metric.get("avg_watts"),
        energy_j=metric.get("energy_j"),
        metric=metric.get("value"),
        metric_unit=str(metric.get("unit", "")),
        samples_per_joule=metric.get("samples_per_joule"),
        problems=tuple(problems),
        series=_series(run_dir, notes),
    )


def _series(run_dir: Path, notes: list[str]) -> Curve:
    try:
        doc = json.loads((run_dir / POWER_JSON).read_text(encoding="utf-8"))
        w = doc["phases"]["testing"]["window"]
        window = PowerWindow(float(w["begin_utc"]), float(w["end_utc"]))
        samples = in_window(read_spl(run_dir / SPL_FILE), window)
    except (OSError, ValueError, KeyError, TypeError, UserError) as exc:
        notes.append(f"power over time left out: {POWER_JSON} or {SPL_FILE} unreadable ({exc})")
        return Curve((), ())
    step = max(1, -(-len(samples) // MAX_POINTS))  # at most MAX_POINTS points
    kept = samples[::step]
    return Curve(tuple(s.t_utc - window.begin_utc for s in kept), tuple(s.watts for s in kept))


def power_text(p: PowerInfo) -> str:
    """``52.80 W avg, 0.0123 J, 37.08 samples/J, VALID (sim)``: one line for md and html."""
    parts = []
    if p.avg_watts is not None:
        parts.append(f"{p.avg_watts:,.2f} W avg")
    if p.metric is not None and p.metric_unit == "millijoules":
        parts.append(f"{p.metric:,.3f} mJ/query")
    if p.energy_j is not None:
        parts.append(f"{p.energy_j:,.3f} J")
    if p.samples_per_joule is not None:
        parts.append(f"{p.samples_per_joule:,.4g} samples/J")
    closed = "" if p.valid_for_closed else ", not valid for a closed power submission"
    parts.append(f"{p.verdict} (meter {p.meter}: {p.meter_model}{closed})")
    return ", ".join(parts)


def csv_cells(p: PowerInfo | None) -> dict[str, object]:
    """The power columns of one CSV row (empty without power)."""
    if p is None:
        return dict.fromkeys(CSV_FIELDS, "")
    values = (p.meter, p.avg_watts, p.energy_j, p.metric, p.metric_unit,
              p.samples_per_joule, p.verdict)  # fmt: skip
    return {k: "" if v is None else v for k, v in zip(CSV_FIELDS, values, strict=True)}
