"""What a synthetic training dataset holds: a pure plan, sized by the official rule or not.

:func:`plan_dataset` takes a workload and the overrides (size, files, record size, samples
per file, format) and returns a :class:`DatasetPlan`; every departure from the official
dataset is stated in its ``notes``. The plan fixes each file's name, record size and bytes
(from the seed); :mod:`mlmeter.storage._datagen` writes them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.storage._formats import EXTENSIONS, FORMATS, estimated_file_bytes
from mlmeter.storage._sizing import DataSize, data_size, format_bytes
from mlmeter.storage._specs import StorageWorkload


@dataclass(frozen=True)
class DatasetPlan:
    """What to generate; ``workload`` carries any record-size or samples-per-file change."""

    workload: StorageWorkload
    file_format: str
    files: int
    seed: int = 0
    subfolders: int = 0
    notes: tuple[str, ...] = ()
    sizing: DataSize | None = None

    def __post_init__(self) -> None:
        if self.file_format not in FORMATS:
            raise UsageError(f"--format {self.file_format!r}: use one of {', '.join(FORMATS)}")
        if self.files < 1:
            raise UsageError(f"--files {self.files}: use 1 or more")
        if self.subfolders < 0:
            raise UsageError(f"--subfolders {self.subfolders}: use 0 or more")

    @property
    def official_size(self) -> bool:
        """True when the plan follows the official sizing rule with the official shapes."""
        return self.sizing is not None and not self.notes

    def path(self, i: int) -> str:
        """The relative path of file ``i``."""
        name = f"img_{i}_of_{self.files}.{EXTENSIONS[self.file_format]}"
        return f"train/{i % self.subfolders}/{name}" if self.subfolders else f"train/{name}"

    def record_sizes(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        """The record size of each file (every sample of a file has the same size)."""
        w = self.workload
        if w.record_bytes_stdev == 0:
            return np.full(self.files, w.record_bytes, dtype=np.int64)
        drawn = np.random.default_rng(self.seed).normal(
            w.record_bytes, w.record_bytes_stdev, self.files
        )
        return np.maximum(np.rint(drawn), 1).astype(np.int64)

    def estimated_bytes(self) -> int:
        """An upper estimate of the dataset on disk."""
        spf, sizes = self.workload.samples_per_file, self.record_sizes()
        per_file = estimated_file_bytes(self.file_format, spf, 0)  # framing and headers
        return int(sizes.sum()) * spf + per_file * self.files

    def samples(self, i: int, record_bytes: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
        """The samples of file ``i``: random bytes, shape ``(samples_per_file, record_bytes)``."""
        spf = self.workload.samples_per_file
        raw = np.random.default_rng([self.seed, i]).bytes(spf * record_bytes)
        return np.frombuffer(raw, dtype=np.uint8).reshape(spf, record_bytes)


def plan_dataset(
    workload: StorageWorkload,
    *,
    accelerators: int = 1,
    hosts: int = 1,
    mem_bytes_per_host: int | None = None,
    size_bytes: int | None = None,
    files: int | None = None,
    file_format: str | None = None,
    record_bytes: int | None = None,
    samples_per_file: int | None = None,
    seed: int = 0,
    subfolders: int = 0,
) -> DatasetPlan:
    """The official size for ``accelerators`` x ``hosts`` unless ``size_bytes``/``files`` say.

    Every departure from the official dataset is stated in ``notes`` (and the manifest).
    """
    if size_bytes is not None and files is not None:
        raise UsageError("--size and --files both set the dataset size: give only one")
    fmt = file_format or workload.format
    notes: list[str] = []
    w = _reshape(workload, record_bytes, samples_per_file, notes)
    if fmt != workload.format:
        notes.append(f"format {fmt} instead of the official {workload.format}")
    sizing: DataSize | None = None
    if files is not None:
        notes.append(f"not the official size: --files {files}")
        count = files
    elif size_bytes is not None:
        if size_bytes < 1:
            raise UsageError(f"--size {size_bytes}: use a positive size such as 64MB")
        per_file = w.samples_per_file * w.record_bytes
        count = max(1, round(size_bytes / per_file))
        notes.append(f"not the official size: --size {format_bytes(size_bytes)}")
    else:
        sizing = data_size(w, accelerators, hosts, mem_bytes_per_host)
        count = sizing.files
    return DatasetPlan(w, fmt, count, seed, subfolders, tuple(notes), sizing)


def _reshape(
    w: StorageWorkload, record: int | None, spf: int | None, notes: list[str]
) -> StorageWorkload:
    if record is not None and record != w.record_bytes:
        if record < 1:
            raise UsageError(f"--record-bytes {record}: use 1 or more")
        stdev = round(w.record_bytes_stdev * record / w.record_bytes)
        notes.append(f"record size {record} B instead of the official {w.record_bytes} B")
        w = dataclasses.replace(w, record_bytes=record, record_bytes_stdev=stdev)
    if spf is not None and spf != w.samples_per_file:
        if spf < 1:
            raise UsageError(f"--samples-per-file {spf}: use 1 or more")
        notes.append(f"{spf} samples per file instead of the official {w.samples_per_file}")
        w = dataclasses.replace(w, samples_per_file=spf)
    return w
