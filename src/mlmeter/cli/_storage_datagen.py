"""``mlmeter storage datagen WORKLOAD --data DIR``: a seeded synthetic training dataset.

By default the official size for ``--accelerators`` x ``--hosts`` with this host's RAM;
``--size 64MB`` or ``--files N`` make a small one (the manifest says it is not the official
size). ``--record-bytes`` and ``--samples-per-file`` shrink the samples for quick runs.
"""

from __future__ import annotations

import argparse
import sys
import time

from mlmeter.storage._datagen import generate_dataset
from mlmeter.storage._dataset_plan import plan_dataset
from mlmeter.storage._formats import FORMATS
from mlmeter.storage._sizing import format_bytes, parse_size
from mlmeter.storage._specs import ACCELERATORS, load_workload, workload_names


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``storage datagen``."""
    p.add_argument("workload", choices=workload_names(), help="the training workload")
    p.add_argument("--data", required=True, help="the dataset folder to write")
    p.add_argument("--accelerators", type=int, default=1, help="for the official size (default 1)")
    p.add_argument("--hosts", type=int, default=1, help="for the official size (default 1)")
    p.add_argument("--accelerator", default="h100", choices=ACCELERATORS, help="default h100")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", default=None, help="about this many bytes, e.g. 64MB, 1GiB")
    size.add_argument("--files", type=int, default=None, help="exactly this many files")
    p.add_argument("--record-bytes", type=int, default=None, help="bytes per sample")
    p.add_argument("--samples-per-file", type=int, default=None, help="samples per file")
    p.add_argument("--format", default=None, choices=FORMATS, help="default: the workload's")
    p.add_argument("--subfolders", type=int, default=0, help="spread files over N folders")
    p.add_argument("--seed", type=int, default=0, help="the data seed (default 0)")
    p.add_argument("--threads", type=int, default=4, help="writer threads (default 4)")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder")


def run(args: argparse.Namespace) -> int:
    """Plan, write, and print one line about what was written."""
    plan = plan_dataset(
        load_workload(args.workload, args.accelerator),
        accelerators=args.accelerators,
        hosts=args.hosts,
        size_bytes=None if args.size is None else parse_size(args.size),
        files=args.files,
        file_format=args.format,
        record_bytes=args.record_bytes,
        samples_per_file=args.samples_per_file,
        seed=args.seed,
        subfolders=args.subfolders,
    )
    start = time.perf_counter()
    m = generate_dataset(plan, args.data, threads=args.threads, force=args.force)
    took = time.perf_counter() - start
    print(
        f"wrote {m.files} {m.file_format} file{_s(m.files)}, {m.samples} samples, "
        f"{format_bytes(m.total_bytes)} to {args.data} in {took:.1f} s "
        f"({format_bytes(m.total_bytes / max(took, 1e-9))}/s)"
    )
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _s(n: int) -> str:
    return "" if n == 1 else "s"
