"""Reference convergence points (RCPs) for our own workloads, in the official JSON layout.

A file holds one record per global batch size, exactly as the official
``rcps_<benchmark>.json`` files do (``Benchmark``, ``Creator``, ``When``, ``Platform``,
``BS``, ``Hyperparams``, ``Epochs to converge`` or ``samples to converge``), so the
official checker reads it too: ``python -m mlperf_logging.rcp_checker --custom_rcps FILE``.
The command and seeds that produced a record are kept in its ``Hyperparams``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlmeter.errors import UserError

# rcp_checker calls the convergence list by this name for these benchmarks.
SAMPLES_KEY_BENCHMARKS = ("llama2_70b_lora", "flux1")
EPOCHS_KEY = "Epochs to converge"
SAMPLES_KEY = "samples to converge"


def convergence_key(benchmark: str) -> str:
    """The name of the convergence list in ``benchmark``'s RCP records."""
    return SAMPLES_KEY if benchmark in SAMPLES_KEY_BENCHMARKS else EPOCHS_KEY


def reference_record(
    benchmark: str,
    batch_size: int,
    converged_at: Sequence[float],
    *,
    hyperparams: Mapping[str, Any],
    platform: str,
    when: str,
    creator: str = "mlmeter",
) -> dict[str, Any]:
    """One RCP record (the official keys, in the official order)."""
    values = [int(v) if float(v).is_integer() else float(v) for v in converged_at]
    return {
        "Benchmark": benchmark,
        "Creator": creator,
        "When": when,
        "Platform": platform,
        "BS": int(batch_size),
        "Hyperparams": dict(hyperparams),
        convergence_key(benchmark): values,
    }


def write_reference(path: Path, records: Sequence[Mapping[str, Any]]) -> None:
    """Write records as ``{"<benchmark>_ref_<BS>": record}``, merging into an existing file."""
    data: dict[str, Any] = {}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    for rec in records:
        data[f"{rec['Benchmark']}_ref_{rec['BS']}"] = dict(rec)
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = dict(sorted(data.items(), key=lambda kv: int(kv[1]["BS"])))
    path.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")


def load_reference(path: Path, benchmark: str) -> dict[int, list[float]]:
    """Batch size -> convergence points of ``benchmark`` in an RCP file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read reference convergence file {path}: {exc}") from exc
    key = convergence_key(benchmark)
    out: dict[int, list[float]] = {}
    for name, rec in data.items():
        if not isinstance(rec, dict) or rec.get("Benchmark") != benchmark:
            continue
        if key not in rec or "BS" not in rec:
            raise UserError(f"{path}: record {name} needs 'BS' and {key!r}")
        out[int(rec["BS"])] = [float(v) for v in rec[key]]
    return out
