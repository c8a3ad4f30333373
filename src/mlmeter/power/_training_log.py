"""Training power logs: ``power/result_<i>/node_<j>.txt`` as the official tools read them.

One ``:::MLLOG`` file per node and run (mlcommons/logging ``mllog/examples/power``):
``power_measurement_start`` (``INTERVAL_START``), ``conversion_eff`` (value 1.0: the readings
are what the meter measured, no AC/DC conversion applied; ``metadata.measurement_type`` is the
meter's scope), one ``power_reading`` per sample (value in W, ``metadata.host = node_<j>``)
and ``power_measurement_stop`` (``INTERVAL_END``). Switches (``sw_<k>.txt`` with
``interconnect_power_est``) are not measured, so none are written.

Which readings, and where the measurement starts and stops: ``result_summarizer`` computes a
node's energy as ``conversion_eff x sum(reading x (t - t_prev)) x time_to_train /
(stop - start)``, from ``power_measurement_start`` on, readings after the stop ignored. We log
the measurement from the run's ``run_start``, with the readings that cover the timed region:
every sample after ``run_start`` up to the first one at or after ``run_stop`` (the reading
that covers the region's tail), or up to the last sample when the meter stopped before one
came; ``power_measurement_stop`` is that last reading's stamp. For constant power this gives
exactly ``W x time_to_train``, the value ``power._metrics.training_energy`` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.logfmt import atomic_write_text
from mlmeter.power._model import PowerSample
from mlmeter.training._mllog import MllogEvent, read_mllog

POWER_MEASUREMENT_START = "power_measurement_start"
POWER_MEASUREMENT_STOP = "power_measurement_stop"
POWER_READING = "power_reading"
CONVERSION_EFF = "conversion_eff"
INTERCONNECT_POWER_EST = "interconnect_power_est"


@dataclass(frozen=True)
class NodeLog:
    """What one ``node_<j>.txt`` holds: the measurement bounds (ms) and its readings."""

    path: Path
    start_ms: int | None
    stop_ms: int | None
    readings: tuple[PowerSample, ...]
    conversion_eff: float = 1.0


def _ms(t_utc: float) -> int:
    return round(t_utc * 1000)


def covering_samples(
    samples: Sequence[PowerSample], run_start_ms: int, run_stop_ms: int
) -> list[PowerSample]:
    """The samples after ``run_start`` up to the first at or after ``run_stop`` (see above)."""
    ordered = sorted(samples, key=lambda s: s.t_utc)
    kept: list[PowerSample] = []
    for s in ordered:
        if _ms(s.t_utc) <= run_start_ms:
            continue
        kept.append(s)
        if _ms(s.t_utc) >= run_stop_ms:
            break
    return kept


def node_log_events(
    samples: Sequence[PowerSample],
    run_start_ms: int,
    run_stop_ms: int,
    *,
    node: int = 0,
    measurement_type: str = "AC",
) -> list[MllogEvent]:
    """The events of one node's power log for one run."""
    kept = covering_samples(samples, run_start_ms, run_stop_ms)
    stop_ms = _ms(kept[-1].t_utc) if kept else run_stop_ms
    host = {"host": f"node_{node}"}
    events = [
        MllogEvent(POWER_MEASUREMENT_START, None, run_start_ms, "INTERVAL_START", metadata=host),
        MllogEvent(
            CONVERSION_EFF, 1.0, run_start_ms, metadata={"measurement_type": measurement_type}
        ),
    ]
    events += [MllogEvent(POWER_READING, s.watts, _ms(s.t_utc), metadata=host) for s in kept]
    events.append(MllogEvent(POWER_MEASUREMENT_STOP, None, stop_ms, "INTERVAL_END", metadata=host))
    return events


def write_node_log(
    path: str | Path,
    samples: Sequence[PowerSample],
    run_start_ms: int,
    run_stop_ms: int,
    *,
    node: int = 0,
    measurement_type: str = "AC",
) -> Path:
    """Write ``node_<j>.txt`` atomically; returns its path."""
    events = node_log_events(
        samples, run_start_ms, run_stop_ms, node=node, measurement_type=measurement_type
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(e.to_line() + "\n" for e in events))
    return Path(path)


def read_node_log(path: str | Path) -> NodeLog:
    """Read a node power log (first start/stop, every reading, the conversion efficiency)."""
    p = Path(path)
    start = stop = None
    eff = 1.0
    readings: list[PowerSample] = []
    for e in read_mllog(p, strict=False):
        if e.key == POWER_MEASUREMENT_START and start is None:
            start = e.time_ms
        elif e.key == POWER_MEASUREMENT_STOP and stop is None:
            stop = e.time_ms
        elif e.key == CONVERSION_EFF and isinstance(e.value, int | float):
            eff = float(e.value)
        elif e.key == POWER_READING:
            if isinstance(e.value, bool) or not isinstance(e.value, int | float):
                raise UserError(f"{p}: power_reading value must be a number in W, got {e.value!r}")
            readings.append(PowerSample(e.time_ms / 1000, float(e.value)))
    return NodeLog(p, start, stop, tuple(readings), eff)


def run_window_ms(log: str | Path) -> tuple[int, int] | None:
    """``(run_start, run_stop)`` in ms from a run's ``result_<i>.txt``, None when either is
    missing (a run that died before logging its stop)."""
    start = stop = None
    for e in read_mllog(log, strict=False):
        if e.key == "run_start" and start is None:
            start = e.time_ms
        elif e.key == "run_stop" and stop is None:
            stop = e.time_ms
    return None if start is None or stop is None else (start, stop)
