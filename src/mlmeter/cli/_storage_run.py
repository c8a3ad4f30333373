"""``mlmeter storage run WORKLOAD --data DIR``: emulated accelerators read a dataset.

Prints the AU, samples/s and MB/s of each run and their mean, writes ``summary.json``
(DLIO's field names), ``per_epoch_stats.json`` and ``mlmeter_storage.json`` to
``--output``, and exits 1 when the mean AU is below the workload's threshold. ``--search``
finds the most accelerators that keep the AU at or above it. Under ``mpirun -np N`` each
MPI rank is one accelerator and rank 0 writes the outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.storage._loader import WORKERS
from mlmeter.storage._mpi import mpi_comm
from mlmeter.storage._run import StorageResult, run_storage
from mlmeter.storage._search import search_max_accelerators
from mlmeter.storage._specs import ACCELERATORS, load_workload


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``storage run``."""
    p.add_argument("workload", help="unet3d, resnet50 or cosmoflow")
    p.add_argument("--data", required=True, type=Path, help="the dataset folder (from datagen)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--accelerators", type=int, default=1, help="emulated accelerators (1)")
    how.add_argument("--search", action="store_true", help="find the most accelerators that pass")
    p.add_argument("--max-accelerators", type=int, default=1024, help="--search stops here")
    p.add_argument(
        "--accelerator",
        default="h100",
        choices=ACCELERATORS,
        help="sets the compute time per batch (default h100)",
    )
    p.add_argument("--runs", type=int, default=5, help="runs to average (default 5)")
    p.add_argument("--epochs", type=int, help="epochs per run (default: the workload's)")
    p.add_argument("--compute-ms", type=float, help="compute per batch in ms (default: official)")
    p.add_argument("--read-threads", type=int, help="readers per accelerator (default: official)")
    p.add_argument("--prefetch", type=int, default=2, help="batches queued ahead (default 2)")
    p.add_argument("--workers", choices=WORKERS, default="threads", help="reader kind")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed of run 1 (run k: seed+k-1)")
    p.add_argument("--verify-crc", action="store_true", help="check TFRecord CRCs while reading")
    p.add_argument("--output", type=Path, help="output folder (default storage_<workload>)")
    p.add_argument(
        "--allow-small",
        action="store_true",
        help="run on a dataset below the official size (not submittable)",
    )


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "runs": args.runs,
        "epochs": args.epochs,
        "compute_s": None if args.compute_ms is None else args.compute_ms / 1000,
        "read_threads": args.read_threads,
        "prefetch": args.prefetch,
        "workers": args.workers,
        "seed": args.seed,
        "verify_crc": args.verify_crc,
        "allow_small": args.allow_small,
    }


def run(args: argparse.Namespace) -> int:
    """Run (or search), print the figures; 0 when the AU passes, 1 when it does not."""
    workload = load_workload(args.workload, args.accelerator)
    out = args.output or Path(f"storage_{workload.name}")
    comm = mpi_comm()
    if args.search:
        if comm is not None:
            raise UsageError("--search starts its own thread ranks: run it without mpirun")
        best = search_max_accelerators(
            workload, args.data, out, max_accelerators=args.max_accelerators, **_options(args)
        )
        return 0 if best.best > 0 else 1
    result = run_storage(
        workload, args.data, out, comm=comm, accelerators=args.accelerators, **_options(args)
    )
    if comm is None or comm.rank == 0:
        print(render(result))
    return 0 if result.passed else 1


def render(result: StorageResult) -> str:
    """The [METRIC] block, DLIO style, and the verdict line."""
    lines = [f"[METRIC] Number of Simulated Accelerators: {result.accelerators}"]
    for k, m in enumerate(result.runs, start=1):
        lines.append(
            f"[METRIC] run {k}: AU {m.au_mean * 100:.2f} %, {m.throughput_mean:.1f} samples/s, "
            f"{m.io_mean_mb_per_s:.1f} MB/s"
        )
    lines += [
        f"[METRIC] Training Accelerator Utilization [AU] (%): {result.au_mean * 100:.4f}",
        f"[METRIC] Training Throughput (samples/second): {result.throughput_mean:.4f}",
        f"[METRIC] Training I/O Throughput (MB/second): {result.io_mb_per_s:.4f}",
        ("PASS: " if result.passed else "FAIL: ") + result.message,
        f"outputs: {result.out_dir}",
    ]
    if not result.submittable:
        lines.append(
            "note: --allow-small: the dataset is below the official size (not submittable)"
        )
    return "\n".join(lines)
