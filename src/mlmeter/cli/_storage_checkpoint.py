"""``mlmeter storage checkpoint MODEL --folder DIR``: MLPerf Storage checkpointing.

Writes ``--num-write`` checkpoints of MODEL (``llama3-8b``, ``-70b``, ``-405b``, ``-1t``),
each rank its shard files with fsync, drops them from the page cache and reads
``--num-read`` of them back; reports GB/s each way (GB = 1e9 bytes; the DLIO-named
``metric`` block uses DLIO's GiB) in ``OUT/checkpoint_summary.json``. ``--ranks N`` runs N
thread ranks on this host; under ``mpirun -np N`` each MPI rank is one rank and rank 0
writes the outputs. The official sizes are large (105 GB for llama3-8b): ``--scale`` or
``--size-per-rank`` shrinks them, and the summary then says "scaled, not the official size".
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.storage._checkpoint import CheckpointConfig, run_local_ranks, run_rank
from mlmeter.storage._checkpoint_report import build_summary, write_summary
from mlmeter.storage._mpi import mpi_comm
from mlmeter.storage._sizing import parse_size
from mlmeter.storage._specs import checkpoint_model_names, load_checkpoint_model


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``storage checkpoint``."""
    p.add_argument("model", metavar="MODEL", help=", ".join(checkpoint_model_names()))
    p.add_argument("--folder", required=True, type=Path, help="where the checkpoints go")
    p.add_argument("--ranks", type=int, default=None, help="thread ranks on this host (1)")
    p.add_argument("--num-write", type=int, default=10, help="checkpoints written (10)")
    p.add_argument("--num-read", type=int, default=10, help="checkpoints read back (10)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--scale", type=float, default=None, help="fraction of the official size")
    size.add_argument("--size-per-rank", default=None, help="bytes per rank, e.g. 16MB, 1MiB")
    p.add_argument(
        "--subset", action="store_true", help="write only the ranks' own shards (one host)"
    )
    p.add_argument(
        "--interval", type=float, default=5.0, help="seconds between checkpoints (5, official)"
    )
    p.add_argument("--no-fsync", action="store_true", help="skip fsync (not the official way)")
    p.add_argument("--output", "-o", type=Path, default=Path("."), help="output folder (.)")
    p.add_argument("--keep", action="store_true", help="keep the checkpoint files")


def run(args: argparse.Namespace) -> int:
    """Run every rank; rank 0 writes the summary and prints the headline."""
    model = load_checkpoint_model(args.model)
    cfg = CheckpointConfig(
        num_write=args.num_write,
        num_read=args.num_read,
        subset=args.subset,
        fsync=not args.no_fsync,
        scale=args.scale,
        size_per_rank=_size_per_rank(args.size_per_rank),
        interval_s=args.interval,
        keep=args.keep,
    )
    comm = mpi_comm()
    if comm is not None:
        if args.ranks not in (None, comm.size):
            raise UsageError(f"--ranks {args.ranks} under mpirun: the ranks are -np; drop --ranks")
        merged, launcher = run_rank(comm, model, args.folder, cfg), "mpi"
    else:
        ranks = 1 if args.ranks is None else args.ranks
        if ranks < 1:
            raise UsageError(f"--ranks {ranks}: use 1 or more")
        merged, launcher = run_local_ranks(model, args.folder, ranks, cfg), "threads"
    if merged is not None:
        _report(args, model, cfg, merged, launcher)
    return 0


def _size_per_rank(text: str | None) -> int | None:
    return None if text is None else parse_size(text, "--size-per-rank")


def _report(args: argparse.Namespace, model: Any, cfg: Any, merged: Any, launcher: str) -> None:
    settings = {
        "num_checkpoints_write": cfg.num_write,
        "num_checkpoints_read": cfg.num_read,
        "time_between_checkpoints_seconds": cfg.interval_s,
        "fsync": cfg.fsync,
        "subset": cfg.subset,
        "keep": cfg.keep,
    }
    doc = build_summary(model, merged, folder=args.folder, settings=settings, launcher=launcher)
    path = write_summary(args.output, doc)
    res = doc["results"]
    load = res["load_GB_per_second_mean"]
    print(
        f"{model.name}: {doc['clients']['ranks']} ranks, {doc['checkpoint_bytes'] / 1e9:.4g} GB "
        f"per checkpoint ({doc['size']}); save {res['save_GB_per_second_mean']:.3f} GB/s, "
        f"load {'n/a' if load is None else f'{load:.3f}'} GB/s (GB = 1e9 bytes)"
    )
    for note in doc["notes"]:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {path}", file=sys.stderr)
