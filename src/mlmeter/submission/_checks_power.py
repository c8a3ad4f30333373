"""Power checks: the power files of inference results and training runs -> findings.

Inference (a scenario folder with power: ``performance/run_1/spl.txt``, ``performance/
ranging/`` or ``performance/power/``):

* ``power.missing_file``: no ``run_1/spl.txt``, or no ranging run (its summary, detail and
  ``spl.txt``) where the meter needs one (an analyzer; any result without ``power.json``);
* ``power.window_samples``: samples missing from the run window (coverage below 90 % of the
  count expected at the meter's interval, 1 s by default, or none with W > 0);
* ``power.clock_offset``: a clock offset above 800 ms (the checker's limit): ``power.json``'s
  measured estimate, or matching phase stamps of ``client.json`` and ``server.json``;
* ``power.ranging_vs_testing``: the testing average more than 5 % below ranging;
* ``power.software_meter``: a software meter (sim, rapl, nvml; anything ``power.json`` marks
  not valid for closed) is an error in the closed division, a note elsewhere.

Training (``power/result_<i>/node_<j>.txt``): ``power.training_rate`` when a run's readings
over run_start..run_stop are below 1 Hz or fewer than 60.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from mlmeter.power._metrics import ranging_problems, training_energy, window_stats
from mlmeter.power._spl import read_spl
from mlmeter.power._training_log import read_node_log, run_window_ms
from mlmeter.power._window import CLOCK_LIMIT_CHECKER_S, window_from_detail
from mlmeter.submission import _layout as L
from mlmeter.submission._checks_common import CLOSED_LIKE, Context, error, note, number
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import InferenceEntry, TrainingEntry

SOFTWARE_METERS = ("sim", "rapl", "nvml")
SPL = "spl.txt"
RUN_FILES = (L.SUMMARY, L.DETAIL, SPL)


def check_power(ctx: Context) -> Iterator[Finding]:
    """Every power finding of the tree."""
    for entry in ctx.tree.inference:
        perf = entry.path / "performance"
        if any(p.exists() for p in (perf / "run_1" / SPL, perf / "ranging", perf / "power")):
            yield from _inference(ctx, entry, perf)
    for tentry in ctx.tree.training:
        yield from _training(ctx, tentry)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _inference(ctx: Context, entry: InferenceEntry, perf: Path) -> Iterator[Finding]:
    doc = _json(perf / "power" / "power.json")
    meter = doc.get("meter") or {}
    needs_ranging = bool(meter.get("needs_ranging", True)) if doc else True
    missing = [n for n in RUN_FILES if not (perf / "run_1" / n).is_file()]
    if needs_ranging:
        missing += [f"ranging/{n}" for n in RUN_FILES if not (perf / "ranging" / n).is_file()]
    for name in missing:
        where = ctx.rel(perf / ("" if "/" in name else "run_1") / name)
        yield error("power.missing_file", where, f"the power result has no {name}")
    interval = number(doc.get("interval_s")) or 1.0
    testing = yield from _window(ctx, perf / "run_1", interval)
    ranging = None
    if needs_ranging or (perf / "ranging").is_dir():
        ranging = yield from _window(ctx, perf / "ranging", interval)
    if testing is not None and ranging is not None:
        for problem in ranging_problems(ranging, testing):
            yield error("power.ranging_vs_testing", ctx.rel(perf), problem)
    yield from _clock(ctx, perf, doc)
    yield from _software(ctx, entry, perf, meter)


def _window(ctx: Context, run: Path, interval: float) -> Generator[Finding, None, float | None]:
    """Findings about the samples in ``run``'s window; returns the window's average W."""
    if not all((run / n).is_file() for n in (L.DETAIL, SPL)):
        return None
    stats = window_stats(read_spl(run / SPL), window_from_detail(run / L.DETAIL), interval)
    for problem in stats.problems:
        yield error("power.window_samples", ctx.rel(run / SPL), problem)
    return stats.avg_watts


def _clock(ctx: Context, perf: Path, doc: dict[str, Any]) -> Iterator[Finding]:
    limit_ms = CLOCK_LIMIT_CHECKER_S * 1000
    estimate = number((doc.get("clock") or {}).get("estimate_ms"))
    if estimate is not None and abs(estimate) > limit_ms:
        yield error(
            "power.clock_offset",
            ctx.rel(perf / "power" / "power.json"),
            f"clock offset {estimate:+.0f} ms between the SUT and the meter exceeds"
            f" {limit_ms:.0f} ms: sync both to one NTP server and rerun",
        )
    client, server = _json(perf / "power" / "client.json"), _json(perf / "power" / "server.json")
    for mode, pairs in _phase_pairs(client, server):
        worst = max((abs(c - s) for c, s in pairs), default=0.0)
        if worst > CLOCK_LIMIT_CHECKER_S:
            yield error(
                "power.clock_offset",
                ctx.rel(perf / "power"),
                f"{mode} phase stamps of client.json and server.json differ by"
                f" {worst * 1000:.0f} ms, more than {limit_ms:.0f} ms: sync both clocks",
            )


def _stamp(value: Any) -> float | None:
    return number(value[0] if isinstance(value, list) and value else value)


def _phase_pairs(
    client: dict[str, Any], server: dict[str, Any]
) -> Iterator[tuple[str, list[tuple[float, float]]]]:
    """Per mode, the matching (client, server) wall stamps of the phases."""
    cp, sp = client.get("phases") or {}, server.get("phases") or {}
    for mode in sorted(set(cp) & set(sp)):
        c, s = cp[mode], sp[mode]
        if isinstance(c, list) and isinstance(s, list):
            stamps = [(_stamp(a), _stamp(b)) for a, b in zip(c, s, strict=False)]
            yield mode, [(a, b) for a, b in stamps if a is not None and b is not None]


def _software(
    ctx: Context, entry: InferenceEntry, perf: Path, meter: dict[str, Any]
) -> Iterator[Finding]:
    kind = str(meter.get("kind", ""))
    if kind not in SOFTWARE_METERS and meter.get("valid_for_closed", True) is not False:
        return
    what = f"the power was measured by a software meter ({kind or 'unknown'}: {meter.get('model')})"
    where = ctx.rel(perf / "power" / "power.json")
    if entry.division in CLOSED_LIKE:
        yield error(
            "power.software_meter",
            where,
            f"{what}: a closed power submission needs a PTDaemon analyzer at the wall",
        )
    else:
        yield note("power.software_meter", where, f"{what}: not comparable with analyzer results")


def _training(ctx: Context, entry: TrainingEntry) -> Iterator[Finding]:
    for log in entry.logs:
        window = run_window_ms(log)
        folder = entry.path / "power" / log.stem
        if window is None or not folder.is_dir():
            continue
        for node in sorted(folder.glob("node_*.txt")):
            readings = read_node_log(node).readings
            energy = training_energy(readings, window[0] / 1000, window[1] / 1000)
            for problem in energy.problems:
                yield error("power.training_rate", ctx.rel(node), problem)
