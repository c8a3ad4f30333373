"""The checkpoint summary: per-rank timings merged by the official rules, one JSON file.

Per checkpoint: duration = the slowest rank's time; throughput = the checkpoint's bytes
(all ranks) / that duration, which equals DLIO's "min over ranks" of ``size / rank
time``; also the slowest single rank's own rate (its bytes / its time). Means are over the
N checkpoints. mlmeter's fields use GB = 1e9 bytes; the ``metric`` block repeats DLIO's
field names in DLIO's units, where "GB" is 2^30 bytes (GiB), so tools that read DLIO's
``summary.json`` compare like with like.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlmeter._version import __version__
from mlmeter.logfmt import atomic_write_text
from mlmeter.storage._checkpoint_io import HAS_FADVISE
from mlmeter.storage._checkpoint_sizes import checkpoint_bytes
from mlmeter.storage._specs import CheckpointModel

FORMAT = "mlmeter.storage_checkpoint"
VERSION = 1
SUMMARY_NAME = "checkpoint_summary.json"
GB = 1e9
GIB = float(2**30)
DROP_METHOD = "posix_fadvise(POSIX_FADV_DONTNEED) on each file after its fsync"


def phase_stats(records: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Per checkpoint of one phase (``save_seconds`` or ``load_seconds``) the merged figures."""
    total = sum(r["bytes"] for r in records)
    out = []
    for i in range(len(records[0][key])):
        seconds = [r[key][i] for r in records]
        slowest = max(seconds)
        rates = [
            r["bytes"] / s / GB
            for r, s in zip(records, seconds, strict=True)
            if r["bytes"] and s > 0
        ]
        out.append(
            {
                "checkpoint": i,
                "duration_seconds": slowest,
                "GB_per_second": total / slowest / GB if slowest > 0 else 0.0,
                "min_rank_GB_per_second": min(rates) if rates else 0.0,
                "rank_seconds": seconds,
            }
        )
    return out


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _pstdev(values: list[float]) -> float | None:
    return statistics.pstdev(values) if values else None


def dlio_metric(save: list[dict[str, Any]], load: list[dict[str, Any]], nbytes: int) -> Any:
    """DLIO's ``metric`` block (means and population stdevs; GB here means GiB)."""
    out: dict[str, Any] = {"checkpoint_size_GB": nbytes / GIB}
    for name, phase in (("save", save), ("load", load)):
        if not phase:
            continue
        rates = [p["GB_per_second"] * GB / GIB for p in phase]
        durations = [p["duration_seconds"] for p in phase]
        out[f"{name}_checkpoint_io_mean_GB_per_second"] = _mean(rates)
        out[f"{name}_checkpoint_io_stdev_GB_per_second"] = _pstdev(rates)
        out[f"{name}_checkpoint_duration_mean_seconds"] = _mean(durations)
        out[f"{name}_checkpoint_duration_stdev_seconds"] = _pstdev(durations)
    return out


def results(save: list[dict[str, Any]], load: list[dict[str, Any]]) -> dict[str, Any]:
    """mlmeter's headline figures in GB/s (1e9 bytes)."""
    out: dict[str, Any] = {}
    for name, phase in (("save", save), ("load", load)):
        out[f"{name}_GB_per_second_mean"] = _mean([p["GB_per_second"] for p in phase])
        out[f"{name}_duration_seconds_mean"] = _mean([p["duration_seconds"] for p in phase])
        mins = [p["min_rank_GB_per_second"] for p in phase]
        out[f"{name}_min_rank_GB_per_second"] = min(mins) if mins else None
    return out


def build_summary(
    model: CheckpointModel,
    merged: dict[str, Any],
    *,
    folder: Path,
    settings: dict[str, Any],
    launcher: str,
) -> dict[str, Any]:
    """The versioned summary document from rank 0's gathered records."""
    records: list[dict[str, Any]] = merged["records"]
    scale: float = merged["scale"]
    nbytes = sum(r["bytes"] for r in records)
    official = checkpoint_bytes(model)
    save = phase_stats(records, "save_seconds")
    load = phase_stats(records, "load_seconds") if records[0]["load_seconds"] else []
    return {
        "format": FORMAT,
        "version": VERSION,
        "mlmeter_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": asdict(model),
        "parameters": official.params,
        "official_checkpoint_bytes": official.total_bytes,
        "size": "official" if scale == 1.0 else "scaled, not the official size",
        "scale": scale,
        "checkpoint_bytes": nbytes,
        "units": {"GB": "1e9 bytes", "metric": "DLIO's names and units: GB there is 2^30 bytes"},
        "settings": {"folder": str(folder), **settings, "page_cache_drop": _drop_note(records)},
        "clients": {
            "ranks": len(records),
            "launcher": launcher,
            "hosts": sorted({r["host"] for r in records}),
        },
        "save": save,
        "load": load,
        "results": results(save, load),
        "metric": dlio_metric(save, load, nbytes),
        "verified_chunks": sum(r["chunks_verified"] for r in records),
        "ranks": records,
        "notes": _notes(scale, records),
        "host": _host(),
    }


def _drop_note(records: list[dict[str, Any]]) -> str:
    if all(r["page_cache_dropped"] for r in records):
        return DROP_METHOD
    return "not done: os.posix_fadvise is not available here; reads may come from memory"


def _notes(scale: float, records: list[dict[str, Any]]) -> list[str]:
    notes = []
    if scale != 1.0:
        notes.append(f"sizes scaled by {scale:.6g}: scaled, not the official size")
    if not all(r["page_cache_dropped"] for r in records) or not HAS_FADVISE:
        notes.append("the page cache was not dropped: read figures may be from memory")
    return notes


def _host() -> dict[str, Any]:
    """Where rank 0 ran (kept light: no framework imports)."""
    return {
        "system_name": platform.node(),
        "operating_system": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count() or 0,
    }


def write_summary(out: Path, doc: dict[str, Any]) -> Path:
    """Write ``OUT/checkpoint_summary.json`` atomically; its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / SUMMARY_NAME
    atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return path
