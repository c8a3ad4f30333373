"""The official minimum dataset size (MLPerf Storage, Submission_guidelines.md section 7).

``min_samples = max(500 x batch x accelerators, hosts x RAM x 5 / record_bytes)``: at least
500 steps per epoch, and at least five times the clients' memory so that the page cache
cannot hold the data. Files = ``ceil(samples / samples_per_file)``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlmeter.errors import UsageError
from mlmeter.storage._specs import StorageWorkload

STEPS_PER_EPOCH = 500
MEMORY_MULTIPLIER = 5
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_UNITS |= {"ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


@dataclass(frozen=True)
class DataSize:
    """The official size of a dataset for a number of accelerators and hosts."""

    samples: int
    files: int
    bytes: int
    samples_by_steps: int
    samples_by_memory: int
    accelerators: int
    hosts: int
    mem_bytes_per_host: int

    @property
    def limited_by(self) -> str:
        """Which rule sets the size: ``"steps"`` or ``"memory"``."""
        return "memory" if self.samples_by_memory > self.samples_by_steps else "steps"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def min_samples(
    workload: StorageWorkload, accelerators: int, hosts: int, mem_bytes_per_host: int
) -> int:
    """The fewest samples a closed run of ``workload`` may use."""
    _check(accelerators, hosts, mem_bytes_per_host)
    by_steps = STEPS_PER_EPOCH * workload.batch_size * accelerators
    by_memory = _ceil_div(hosts * mem_bytes_per_host * MEMORY_MULTIPLIER, workload.record_bytes)
    return max(by_steps, by_memory)


def min_files(workload: StorageWorkload, samples: int) -> int:
    """Files holding ``samples`` at ``workload.samples_per_file`` each (the last may be short)."""
    return _ceil_div(samples, workload.samples_per_file)


def data_size(
    workload: StorageWorkload,
    accelerators: int,
    hosts: int = 1,
    mem_bytes_per_host: int | None = None,
) -> DataSize:
    """The official size; ``mem_bytes_per_host`` defaults to this host's RAM."""
    mem = host_memory_bytes() if mem_bytes_per_host is None else mem_bytes_per_host
    samples = min_samples(workload, accelerators, hosts, mem)
    files = min_files(workload, samples)
    return DataSize(
        samples=files * workload.samples_per_file,
        files=files,
        bytes=files * workload.samples_per_file * workload.record_bytes,
        samples_by_steps=STEPS_PER_EPOCH * workload.batch_size * accelerators,
        samples_by_memory=_ceil_div(hosts * mem * MEMORY_MULTIPLIER, workload.record_bytes),
        accelerators=accelerators,
        hosts=hosts,
        mem_bytes_per_host=mem,
    )


def _check(accelerators: int, hosts: int, mem_bytes_per_host: int) -> None:
    if accelerators < 1:
        raise UsageError(f"--accelerators {accelerators}: use 1 or more")
    if hosts < 1:
        raise UsageError(f"--hosts {hosts}: use 1 or more")
    if mem_bytes_per_host < 0:
        raise UsageError(f"memory per host {mem_bytes_per_host}: must be >= 0 bytes")


def host_memory_bytes(meminfo: Path = Path("/proc/meminfo")) -> int:
    """This host's RAM: ``MemTotal`` of /proc/meminfo, else ``os.sysconf`` pages x page size."""
    try:
        for line in meminfo.read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024  # the kernel writes kB (KiB)
    except (OSError, ValueError, IndexError):
        pass
    return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))


def parse_size(text: str, flag: str = "--size") -> int:
    """``64MB`` -> 64,000,000; ``1GiB`` -> 2^30; also ``1.5k``, ``.5GB``, ``1e6``; ``4096`` bytes.

    The unit is ``k``, ``m``, ``g`` or ``t`` (decimal) or ``ki`` ... ``ti`` (binary), with or
    without a trailing ``b``, in any case; the result is rounded to whole bytes.
    """
    m = re.fullmatch(r"\s*(\d*\.?\d+(?:e\d+)?)\s*([kmgt]i?)?b?\s*", text.lower())
    if m is None:
        raise UsageError(f"{flag} {text!r}: use a size such as 64MB, 500MiB or 2GB")
    return round(float(m.group(1)) * _UNITS[m.group(2) or ""])


def format_bytes(n: float) -> str:
    """``1234567`` -> ``1.23 MB`` (decimal units)."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{int(n)} B"


def free_bytes(folder: Path) -> tuple[Path, int]:
    """Free bytes on the file system that holds ``folder`` (or its nearest existing parent)."""
    probe = folder.absolute()
    while not probe.exists():
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free
