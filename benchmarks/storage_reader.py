"""The storage reader's throughput against fio's sequential reads of the same files.

Both read every file of one dataset once, sequentially, one file after the other, in
one thread, with the page cache of those files dropped before each pass
(``posix_fadvise(DONTNEED)`` per file, after an ``fsync``):

- ours: ``mlmeter.storage._reader.read_file`` (large ``readinto`` calls into a reused
  buffer, then the format's decode: what a storage run does per file); a second row
  reads the bytes only (no decode), untargeted;
- fio: ``--rw=read --bs=1M --direct=0 --ioengine=psync`` over the same files
  (``--filename`` list, ``--file_service_type=sequential``), its JSON output parsed.

They alternate (who goes first alternates too), ``--repeat`` times; the table shows the
medians in MB/s (10^6 bytes/s) and ours/fio (target >= 0.9). Without ``fio`` on PATH the
comparison is skipped with a note. The dataset is ``--data DIR`` (an mlmeter dataset) or
one generated in a temporary folder (``--size`` MB of unet3d-style npz files).

    python benchmarks/storage_reader.py --quick
    python benchmarks/storage_reader.py --size 1024 --json storage_reader.json

Exit status: 0 when the targeted row passes (or is skipped), 1 when it fails, 2 on error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _common import Target, grid, loadavg, machine_info, pass_text, render_machine, write_json

from mlmeter.storage._datagen import generate_dataset
from mlmeter.storage._dataset_plan import plan_dataset
from mlmeter.storage._formats import DatasetManifest, read_manifest
from mlmeter.storage._reader import ReadOptions, read_file
from mlmeter.storage._specs import load_workload

TARGET = Target(">=", 0.9, "the reader is as fast as fio on the same files")
MB = 1e6


class BenchError(RuntimeError):
    """A measurement could not be made."""


@dataclass
class Row:
    """One line of the table: ours over the reference, against a target."""

    metric: str
    reference: float | None
    measured: float | None
    target: Target | None
    note: str = ""
    ratio: float | None = field(init=False)
    passed: bool | None = field(init=False)

    def __post_init__(self) -> None:
        ok = self.reference and self.measured is not None
        self.ratio = self.measured / self.reference if ok else None  # type: ignore[operator]
        self.passed = self.target.met(self.ratio) if self.target and self.ratio else None


def drop_cache(paths: Sequence[Path]) -> None:
    """Ask the kernel to drop these files' cached pages (needs no root)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def ours_mb_per_s(ds: DatasetManifest, decode: bool) -> float:
    """Read every file once with the storage reader; MB/s."""
    paths = ds.file_paths()
    opts = ReadOptions(ds.file_format, ds.samples_per_file, decode=decode)
    drop_cache(paths)
    t0 = time.perf_counter()
    total = sum(read_file(str(p), opts).nbytes for p in paths)
    return total / (time.perf_counter() - t0) / MB


def fio_mb_per_s(ds: DatasetManifest) -> float:
    """fio's sequential read of the same files, one after the other; MB/s."""
    paths = ds.file_paths()
    if any(":" in str(p) for p in paths):
        raise BenchError("fio separates file names with ':': use a dataset path without one")
    drop_cache(paths)
    cmd = ["fio", "--name=seqread", "--rw=read", "--bs=1M", "--direct=0", "--ioengine=psync",
           "--numjobs=1", "--file_service_type=sequential", "--invalidate=1",
           "--filename=" + ":".join(str(p) for p in paths), "--output-format=json"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise BenchError(f"fio failed: {proc.stderr[-400:]}")
    return parse_fio(proc.stdout, ds.total_bytes)


def parse_fio(text: str, expected_bytes: int) -> float:
    """MB/s of fio's JSON output (``jobs[0].read``: bytes over runtime).

    fio reads whole ``--bs`` blocks, so it skips the last partial block of a file: it must
    have read at least 95 % of the bytes.
    """
    doc = json.loads(text[text.index("{") :])  # fio may print notes before the JSON
    read = doc["jobs"][0]["read"]
    if int(read["io_bytes"]) < 0.95 * expected_bytes:
        raise BenchError(f"fio read {read['io_bytes']} of {expected_bytes} bytes")
    return int(read["io_bytes"]) / (float(read["runtime"]) / 1000) / MB


def measure(ds: DatasetManifest, repeat: int, has_fio: bool) -> dict[str, list[float]]:
    """Alternate ours and fio ``repeat`` times; every figure per tool."""
    got: dict[str, list[float]] = {"ours": [], "ours_raw": [], "fio": []}
    for i in range(repeat):
        if has_fio and i % 2 == 1:
            got["fio"].append(fio_mb_per_s(ds))
        got["ours"].append(ours_mb_per_s(ds, decode=True))
        got["ours_raw"].append(ours_mb_per_s(ds, decode=False))
        if has_fio and i % 2 == 0:
            got["fio"].append(fio_mb_per_s(ds))
    return got


def rows_of(got: dict[str, list[float]], ds: DatasetManifest, has_fio: bool) -> list[Row]:
    """The table rows: medians, ours (decode) vs fio, ours (bytes only) vs fio."""
    fio = statistics.median(got["fio"]) if got["fio"] else None
    size = f"{ds.files} {ds.file_format} files, {ds.total_bytes / MB:.0f} MB"
    note = f"{size}, median of {len(got['ours'])}, cache dropped before each pass"
    if not has_fio:
        note += "; fio is not on PATH: the comparison is skipped (apt-get install fio)"
    return [
        Row("sequential read MB/s, reader vs fio", fio, statistics.median(got["ours"]), TARGET,
            note),
        Row("sequential read MB/s, bytes only vs fio", fio, statistics.median(got["ours_raw"]),
            None, "no decode: read_file(decode=False)"),
    ]  # fmt: skip


def render(rows: Sequence[Row]) -> str:
    """metric | fio | ours | ratio | target | pass."""
    header = ("metric", "fio", "ours", "ratio (ours/fio)", "target", "pass")
    body = [
        (
            r.metric,
            "-" if r.reference is None else f"{r.reference:,.0f} MB/s",
            "-" if r.measured is None else f"{r.measured:,.0f} MB/s",
            "-" if r.ratio is None else f"{r.ratio:.3f}",
            str(r.target) if r.target else "-",
            pass_text(r.passed),
        )
        for r in rows
    ]
    lines = grid(header, body)
    return "\n".join(lines + [f"  [{r.metric}] {r.note}" for r in rows if r.note])


def make_dataset(root: Path, size_mb: int, file_mb: int) -> DatasetManifest:
    """unet3d-style npz files (one sample each) of about ``file_mb`` MB, ``size_mb`` in all."""
    files = max(1, round(size_mb / file_mb))
    fixed = dataclasses.replace(load_workload("unet3d"), record_bytes_stdev=0)  # equal files
    plan = plan_dataset(fixed, files=files, record_bytes=file_mb * 2**20)
    return generate_dataset(plan, root)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--data", type=Path, help="an mlmeter dataset (default: generate one)")
    p.add_argument("--size", type=int, help="MB to generate (default 512; --quick 32)")
    p.add_argument("--file-mb", type=int, default=8, help="MB per generated file (default 8)")
    p.add_argument("--repeat", type=int, help="passes per tool (default 5; --quick 1)")
    p.add_argument("--quick", action="store_true", help="a small dataset, one pass each")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 5)
    args.size = args.size or (32 if args.quick else 512)
    if args.repeat < 1 or args.size < 1 or args.file_mb < 1:
        p.error("--repeat, --size and --file-mb must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Options -> dataset -> alternating passes -> table (and JSON)."""
    args = parse_args(argv)
    info = machine_info()
    print(render_machine(info), flush=True)
    has_fio = shutil.which("fio") is not None
    with tempfile.TemporaryDirectory(prefix="storage-reader-") as tmp:
        try:
            ds = read_manifest(args.data) if args.data else make_dataset(
                Path(tmp), args.size, args.file_mb)  # fmt: skip
            got = measure(ds, args.repeat, has_fio)
        except (BenchError, subprocess.TimeoutExpired, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    rows = rows_of(got, ds, has_fio)
    info["loadavg_after"] = loadavg()
    print(render(rows))
    if args.json:
        table = [{**asdict(r), "target": str(r.target) if r.target else None} for r in rows]
        write_json(args.json, "storage_reader", info, rows=table, passes=got,
                   dataset={"files": ds.files, "bytes": ds.total_bytes,
                            "format": ds.file_format}, fio=has_fio)  # fmt: skip
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
