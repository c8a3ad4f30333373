"""``mlmeter storage datasize WORKLOAD --accelerators N``: the official minimum dataset.

``max(500 steps x batch x accelerators, hosts x RAM x 5 / record size)`` samples, in whole
files; RAM is this host's (``/proc/meminfo``) unless ``--mem-gb`` gives the clients'.
"""

from __future__ import annotations

import argparse

from mlmeter.storage._sizing import data_size, format_bytes
from mlmeter.storage._specs import ACCELERATORS, load_workload, workload_names


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``storage datasize``."""
    p.add_argument("workload", choices=workload_names(), help="the training workload")
    p.add_argument(
        "--accelerators", type=int, required=True, help="simulated accelerators, all hosts"
    )
    p.add_argument("--hosts", type=int, default=1, help="client hosts (default 1)")
    p.add_argument("--accelerator", default="h100", choices=ACCELERATORS, help="default h100")
    p.add_argument(
        "--mem-gb", type=float, default=None, help="RAM per host in GiB (default: this host's)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the minimum samples, files and bytes, and which rule sets them."""
    w = load_workload(args.workload, args.accelerator)
    mem = None if args.mem_gb is None else int(args.mem_gb * 2**30)
    s = data_size(w, args.accelerators, args.hosts, mem)
    print(f"workload: {w.name} ({w.accelerator}, {w.format}, {w.record_bytes} B per sample)")
    ram = s.mem_bytes_per_host / 2**30
    print(f"accelerators: {s.accelerators}, hosts: {s.hosts}, RAM per host: {ram:.1f} GiB")
    print(f"samples by 500 steps: {s.samples_by_steps}")
    print(f"samples by 5 x RAM: {s.samples_by_memory}")
    print(f"minimum samples: {s.samples} (set by {s.limited_by})")
    print(f"minimum files: {s.files} ({w.samples_per_file} samples per file)")
    print(f"minimum size: {format_bytes(s.bytes)} ({s.bytes / 2**30:.1f} GiB)")
    return 0
