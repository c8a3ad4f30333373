"""The files ``mlmeter storage run`` writes, all atomically.

- ``summary.json`` and ``per_epoch_stats.json`` with DLIO's field names (one pair per run in
  ``run_<k>/``, and a merged pair in the output folder whose arrays hold every epoch of
  every run), so tools that read DLIO's output read ours. Left out: DLIO's raw
  ``host_cpuinfo``/``host_meminfo`` dumps and the eval/checkpoint metrics.
- ``mlmeter_storage.json``: ours, versioned (format ``mlmeter.storage_run``, version 1):
  settings, dataset, system description, each run's figures, the mean and the verdict.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.logfmt import atomic_write_text
from mlmeter.storage._formats import DatasetManifest
from mlmeter.storage._metrics import RunMetrics

FORMAT = "mlmeter.storage_run"
VERSION = 1
GIB = 2**30


def utc_stamp(epoch_s: float) -> str:
    """DLIO's timestamp form: ISO 8601 in UTC with microseconds, no zone suffix."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclass(frozen=True)
class EpochSpan:
    """One epoch's wall-clock start and end (seconds since the epoch, rank 0)."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class RunRecord:
    """One run: its metrics, its seed and its epochs' wall-clock spans."""

    metrics: RunMetrics
    seed: int
    spans: tuple[EpochSpan, ...]


@dataclass(frozen=True)
class HostFacts:
    """What the summary says about the dataset and the host."""

    accelerators: int
    files: int
    samples_per_file: int
    data_bytes: int
    host_memory_bytes: int
    potential_caching: bool


def record_bytes(ds: DatasetManifest) -> float:
    """The dataset's mean record size (DLIO's ``record_length``) for MB/s."""
    mean = ds.data.get("record_bytes")
    if isinstance(mean, int | float) and mean > 0:
        return float(mean)
    return float(np.mean(ds.record_bytes)) if ds.record_bytes else 0.0


def describe_dataset(ds: DatasetManifest) -> dict[str, Any]:
    """The dataset as ``mlmeter_storage.json`` records it."""
    return {
        "path": str(ds.root),
        "workload": ds.workload,
        "format": ds.file_format,
        "files": ds.files,
        "samples_per_file": ds.samples_per_file,
        "samples": ds.samples,
        "record_bytes": record_bytes(ds),
        "total_bytes": ds.total_bytes,
        "seed": ds.seed,
        "official_size": ds.official_size,
    }


def write_json(path: Path, doc: Any) -> None:
    """Pretty JSON with a final newline, atomically."""
    atomic_write_text(path, json.dumps(doc, indent=4) + "\n")


def summary_doc(runs: Sequence[RunRecord], host: HostFacts) -> dict[str, Any]:
    """DLIO's ``summary.json`` over the epochs of ``runs`` (one run: DLIO's own file)."""
    au = [a * 100 for r in runs for a in r.metrics.au]
    tput = [t for r in runs for t in r.metrics.throughput]
    first = runs[0].metrics
    merged = RunMetrics(
        tuple(a / 100 for a in au), tuple(tput), first.record_bytes, first.threshold
    )
    metric = {
        "train_au_percentage": au,
        "train_au_mean_percentage": merged.au_mean * 100,
        "train_au_meet_expectation": "success" if merged.passed else "fail",
        "train_au_stdev_percentage": merged.au_stdev * 100,
        "train_throughput_samples_per_second": tput,
        "train_throughput_mean_samples_per_second": merged.throughput_mean,
        "train_throughput_stdev_samples_per_second": merged.throughput_stdev,
        "train_io_mean_MB_per_second": merged.io_mean_mb_per_s,
        "train_io_stdev_MB_per_second": merged.throughput_stdev * first.record_bytes / 2**20,
    }
    return {
        "start": utc_stamp(runs[0].spans[0].start_s),
        "num_accelerators": host.accelerators,
        "num_hosts": 1,
        "hostname": socket.gethostname(),
        "metric": metric,
        "num_files_train": host.files,
        "num_files_eval": 0,
        "num_samples_per_file": host.samples_per_file,
        "host_cpu_count": [_cpu_count()],
        "host_processor_name": platform.processor(),
        "potential_caching": [int(host.potential_caching)],
        "host_memory_GB": [host.host_memory_bytes / GIB],
        "data_size_per_host_GB": host.data_bytes / GIB,
        "epochs": len(au),
        "end": utc_stamp(runs[-1].spans[-1].end_s),
    }


def _cpu_count() -> int:
    return os.cpu_count() or 0


def per_epoch_doc(run: RunRecord) -> dict[str, Any]:
    """DLIO's ``per_epoch_stats.json`` (one block per epoch), plus the epoch's figures."""
    out: dict[str, Any] = {}
    for e, span in enumerate(run.spans, start=1):
        times = {
            "start": utc_stamp(span.start_s),
            "end": utc_stamp(span.end_s),
            "duration": f"{span.end_s - span.start_s:.2f}",
        }
        out[str(e)] = {
            **times,
            "block1": dict(times),
            "au_percentage": run.metrics.au[e - 1] * 100,
            "throughput_samples_per_second": run.metrics.throughput[e - 1],
        }
    return out


def run_entry(index: int, run: RunRecord) -> dict[str, Any]:
    """One run in ``mlmeter_storage.json``."""
    m = run.metrics
    return {
        "run": index,
        "seed": run.seed,
        "au_percentage": [a * 100 for a in m.au],
        "au_mean_percentage": m.au_mean * 100,
        "throughput_samples_per_second": list(m.throughput),
        "throughput_mean_samples_per_second": m.throughput_mean,
        "io_mean_MB_per_second": m.io_mean_mb_per_s,
        "passed": m.passed,
    }


def write_outputs(
    out_dir: Path, runs: Sequence[RunRecord], host: HostFacts, ours: dict[str, Any]
) -> None:
    """Every file of a finished run set; ``ours`` is ``mlmeter_storage.json`` minus the runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for k, run in enumerate(runs, start=1):
        run_dir = out_dir / f"run_{k}"
        run_dir.mkdir(exist_ok=True)
        write_json(run_dir / "summary.json", summary_doc([run], host))
        write_json(run_dir / "per_epoch_stats.json", per_epoch_doc(run))
    write_json(out_dir / "summary.json", summary_doc(runs, host))
    merged = {f"run_{k}": per_epoch_doc(r) for k, r in enumerate(runs, start=1)}
    write_json(out_dir / "per_epoch_stats.json", merged)
    doc = {"format": FORMAT, "version": VERSION, **ours}
    doc["runs"] = [run_entry(k, r) for k, r in enumerate(runs, start=1)]
    write_json(out_dir / "mlmeter_storage.json", doc)
