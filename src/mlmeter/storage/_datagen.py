"""Seeded synthetic training datasets: the files of a plan (``_dataset_plan``), then the manifest.

Record sizes come from ``default_rng(seed)`` as N(record_bytes, stdev) rounded and clipped
to >= 1 (one size per file, as DLIO draws them); the bytes of file ``i`` are random bytes
from ``default_rng([seed, i])``, so they compress badly and the result does not depend on
how many threads write. Files are named as DLIO names them,
``train/[<i % subfolders>/]img_<i>_of_<n>.<ext>``. ``mlmeter_dataset.json`` is written last
and atomically: a folder without it is never taken for a complete dataset.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlmeter._version import __version__
from mlmeter.errors import RunError, UsageError
from mlmeter.logfmt import atomic_write_text
from mlmeter.storage._dataset_plan import DatasetPlan
from mlmeter.storage._formats import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    MANIFEST_VERSION,
    DatasetManifest,
    encoder,
    read_manifest,
)
from mlmeter.storage._sizing import format_bytes, free_bytes

WriteFn = Callable[[Path, bytes], None]


def write_file(path: Path, data: bytes) -> None:
    """Write one data file (the default ``write`` of :func:`generate_dataset`)."""
    with open(path, "wb") as f:
        f.write(data)


def generate_dataset(
    plan: DatasetPlan,
    root: str | Path,
    *,
    threads: int = 4,
    force: bool = False,
    write: WriteFn = write_file,
) -> DatasetManifest:
    """Write the dataset of ``plan`` into ``root`` and, last, its manifest.

    Refuses a folder that holds something other than an mlmeter dataset (unless ``force``)
    and a file system without room for it; a full disk while writing removes the partial
    files and raises a :class:`RunError` saying how much was written.
    """
    root = Path(root)
    encode = encoder(plan.file_format)
    sizes = plan.record_sizes()
    old = _existing(root, force)
    _check_space(root, plan.estimated_bytes(), sum(old.file_bytes) if old else 0)
    if old is not None:
        (root / MANIFEST_NAME).unlink()  # first: a half-replaced dataset must not look whole
        for p in old.file_paths():
            p.unlink(missing_ok=True)
    for d in {(root / plan.path(i)).parent for i in range(min(plan.files, plan.subfolders or 1))}:
        d.mkdir(parents=True, exist_ok=True)
    jobs = _Jobs(plan, root, sizes, encode, write)
    jobs.run(max(1, min(threads, plan.files)))
    doc = manifest_document(plan, sizes, jobs.file_bytes, created=_utc_now())
    atomic_write_text(root / MANIFEST_NAME, json.dumps(doc, indent=1) + "\n")
    return read_manifest(root)


def _existing(root: Path, force: bool) -> DatasetManifest | None:
    """The dataset already in ``root``, if any; refuses other contents unless ``force``."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"--data {root}: this is a file, not a folder: give a folder path")
    if (root / MANIFEST_NAME).is_file():
        try:
            return read_manifest(root)
        except UsageError:
            if not force:
                raise
            return None
    if root.is_dir() and any(root.iterdir()) and not force:
        raise UsageError(
            f"--data {root}: the folder exists and is not an mlmeter dataset: "
            "give a new or empty folder, or --force to write into it"
        )
    return None


def _check_space(root: Path, needed: int, reclaimed: int) -> None:
    where, free = free_bytes(root)
    if needed > free + reclaimed:
        raise UsageError(
            f"--data {root}: not enough free disk: the dataset needs {format_bytes(needed)} "
            f"and {where} has {format_bytes(free + reclaimed)} free: "
            "free space, use a smaller --size/--files, or another --data folder"
        )


class _Jobs:
    """Threads that write files ``0..n-1``; the first error stops them all."""

    def __init__(
        self, plan: DatasetPlan, root: Path, sizes: Any, encode: Any, write: WriteFn
    ) -> None:
        self.plan, self.root, self.sizes, self.encode, self.write = plan, root, sizes, encode, write
        self.file_bytes = [0] * plan.files
        self._next = 0
        self._lock = threading.Lock()
        self._errors: list[Exception] = []

    def run(self, threads: int) -> None:
        workers = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        if self._errors:
            self._fail(self._errors[0])

    def _take(self) -> int | None:
        with self._lock:
            if self._errors or self._next >= self.plan.files:
                return None
            self._next += 1
            return self._next - 1

    def _work(self) -> None:
        while (i := self._take()) is not None:
            try:
                data = self.encode(self.plan.samples(i, int(self.sizes[i])))
                self.write(self.root / self.plan.path(i), data)
            except Exception as exc:  # handed to the main thread, which raises it
                with self._lock:
                    self._errors.append(exc)
                return
            self.file_bytes[i] = len(data)

    def _fail(self, exc: Exception) -> None:
        written = sum(self.file_bytes)
        for i in range(self.plan.files):
            (self.root / self.plan.path(i)).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RunError(
                f"--data {self.root}: the disk filled up after {format_bytes(written)} of "
                f"{format_bytes(self.plan.estimated_bytes())}; the partial files were removed: "
                "free space or use a smaller --size/--files"
            ) from None
        if isinstance(exc, OSError):
            raise RunError(f"--data {self.root}: cannot write a data file: {exc}") from None
        raise exc


def manifest_document(
    plan: DatasetPlan, sizes: Any, file_bytes: list[int], *, created: str
) -> dict[str, Any]:
    """The manifest's JSON document (``file_list`` holds every file, in order)."""
    w, s = plan.workload, plan.sizing
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "workload": w.name,
        "accelerator": w.accelerator,
        "file_format": plan.file_format,
        "files": plan.files,
        "samples_per_file": w.samples_per_file,
        "samples": plan.files * w.samples_per_file,
        "record_bytes": w.record_bytes,
        "record_bytes_stdev": w.record_bytes_stdev,
        "total_bytes": sum(file_bytes),
        "seed": plan.seed,
        "subfolders": plan.subfolders,
        "official_size": plan.official_size,
        "notes": list(plan.notes),
        "sizing": None if s is None else dataclasses.asdict(s),
        "created": created,
        "mlmeter_version": __version__,
        "file_list": [
            {"path": plan.path(i), "bytes": file_bytes[i], "record_bytes": int(sizes[i])}
            for i in range(plan.files)
        ],
    }


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
