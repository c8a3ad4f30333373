"""Dataset generation: the three formats read back, seeds, sizes, the manifest, and errors."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.util
import io
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _golden import check_golden
from mlmeter.errors import RunError, UsageError
from mlmeter.storage._datagen import generate_dataset, write_file
from mlmeter.storage._dataset_plan import DatasetPlan, plan_dataset
from mlmeter.storage._formats import (
    MANIFEST_NAME,
    crc32c_python,
    masked_crc32c,
    read_manifest,
)
from mlmeter.storage._specs import load_workload

pytestmark = pytest.mark.timeout(60)
HDF5 = pytest.param(
    "hdf5",
    marks=pytest.mark.skipif(importlib.util.find_spec("h5py") is None, reason="needs h5py"),
)


def small(fmt: str = "tfrecord", files: int = 4, **kw: Any) -> DatasetPlan:
    """resnet50's shape, shrunk: 3 samples of 1,000 bytes per file."""
    opts: dict[str, Any] = {"record_bytes": 1000, "samples_per_file": 3, "file_format": fmt}
    opts.update(kw)
    return plan_dataset(load_workload("resnet50"), files=files, **opts)


def read_tfrecord(data: bytes) -> list[bytes]:
    """A reader written from the TFRecord spec, checking both CRCs (pure-Python CRC32C)."""

    def masked(b: bytes) -> int:
        c = crc32c_python(b)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) % 2**32

    out, off = [], 0
    while off < len(data):
        (length,) = struct.unpack_from("<Q", data, off)
        (len_crc,) = struct.unpack_from("<I", data, off + 8)
        assert len_crc == masked(data[off : off + 8])
        payload = data[off + 12 : off + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, off + 12 + length)
        assert data_crc == masked(payload)
        out.append(payload)
        off += 16 + length
    assert off == len(data)
    return out


def records_of(fmt: str, path: Path) -> np.ndarray[Any, Any]:
    """The samples of one file as a (samples, bytes) uint8 array, read per format."""
    if fmt == "npz":
        with np.load(path) as z:
            assert sorted(z.files) == ["x", "y"]
            assert not z["y"].any()
            return np.asarray(z["x"])
    if fmt == "hdf5":
        import h5py

        with h5py.File(path, "r") as f:
            assert sorted(f.keys()) == ["labels", "records"]
            return np.asarray(f["records"][()])
    rows = read_tfrecord(path.read_bytes())
    return np.stack([np.frombuffer(r, dtype=np.uint8) for r in rows])


def test_crc32c_known_values() -> None:
    assert crc32c_python(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c_python(b"") == 0
    assert crc32c_python(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c_python(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of ones
    assert masked_crc32c(b"123456789") == crc_masked_by_hand(0xE3069283)


def crc_masked_by_hand(c: int) -> int:
    rotated = int(f"{c:032b}"[-15:] + f"{c:032b}"[:-15], 2)
    return (rotated + 0xA282EAD8) % 2**32


@pytest.mark.parametrize("fmt", ["npz", "tfrecord", HDF5])
def test_each_format_round_trips(tmp_path: Path, fmt: str) -> None:
    plan = small(fmt, files=5, subfolders=2)
    m = generate_dataset(plan, tmp_path / "d", threads=3)
    assert m.files == 5 and m.samples == 15 and m.file_format == fmt
    assert sorted(p.name for p in (tmp_path / "d" / "train").rglob("*.*")) == sorted(
        f"img_{i}_of_5.{fmt}" for i in range(5)
    )
    for i, path in enumerate(m.file_paths()):
        assert path.parent.name == str(i % 2)
        rows = records_of(fmt, path)
        assert rows.shape == (3, 1000) and rows.dtype == np.uint8
        assert np.array_equal(rows, plan.samples(i, 1000))
        assert path.stat().st_size == m.file_bytes[i]
    assert m.total_bytes == sum(p.stat().st_size for p in m.file_paths())
    assert m.total_bytes <= plan.estimated_bytes() <= m.total_bytes + 5 * 4200


@pytest.mark.parametrize("fmt", ["npz", "tfrecord", HDF5])
def test_the_disk_estimate_is_an_upper_bound(tmp_path: Path, fmt: str) -> None:
    plan = small(fmt, files=2, samples_per_file=1251, record_bytes=10)  # labels > headers
    m = generate_dataset(plan, tmp_path / "d")
    assert m.total_bytes <= plan.estimated_bytes()


def test_data_is_random_bytes_that_do_not_compress(tmp_path: Path) -> None:
    import zlib

    m = generate_dataset(small("tfrecord", files=1, record_bytes=50_000), tmp_path / "d")
    data = m.file_paths()[0].read_bytes()
    assert len(zlib.compress(data, 6)) > 0.99 * len(data)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "train").rglob("*.*"))
    }


def test_same_seed_same_bytes_whatever_the_threads(tmp_path: Path) -> None:
    w = load_workload("cosmoflow")
    plan = plan_dataset(w, files=6, record_bytes=2000, seed=11)  # stdev scaled: sizes vary
    generate_dataset(plan, tmp_path / "a", threads=1)
    generate_dataset(plan, tmp_path / "b", threads=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    other = plan_dataset(w, files=6, record_bytes=2000, seed=12)
    generate_dataset(other, tmp_path / "c")
    assert set(digest(tmp_path / "c").values()).isdisjoint(digest(tmp_path / "a").values())


def test_record_sizes_follow_the_workload_distribution() -> None:
    w = load_workload("cosmoflow")  # 2,828,486 B +- 71,311
    sizes = plan_dataset(w, files=4000, seed=3).record_sizes()
    assert abs(sizes.mean() - w.record_bytes) < 4 * w.record_bytes_stdev / np.sqrt(len(sizes))
    assert sizes.std() == pytest.approx(w.record_bytes_stdev, rel=0.05)
    wide = plan_dataset(w, files=2000, record_bytes=10, seed=3)  # stdev -> 0.25 B
    assert wide.workload.record_bytes_stdev == 0
    unet = plan_dataset(load_workload("unet3d"), files=3000, record_bytes=100, seed=1)
    s = unet.record_sizes()  # N(100, 47): clipped at 1
    assert s.min() == 1 and (s == 1).sum() > 10  # about 1.7 % of draws fall below 0.5
    assert np.array_equal(s, np.maximum(np.rint(np.random.default_rng(1).normal(100, 47, 3000)), 1))


def test_official_size_by_default() -> None:
    w = load_workload("unet3d", "h100")
    mem = 64 * 2**30
    plan = plan_dataset(w, accelerators=4, hosts=2, mem_bytes_per_host=mem)
    expected = max(500 * 7 * 4, -(-2 * mem * 5 // w.record_bytes))
    assert plan.files == expected and plan.official_size and plan.notes == ()
    assert plan.sizing is not None and plan.sizing.samples == expected


def test_size_override_is_stated() -> None:
    w = load_workload("resnet50")
    plan = plan_dataset(w, size_bytes=64 * 10**6, record_bytes=10_000, samples_per_file=100)
    assert plan.files == 64  # 64 MB / (100 x 10 kB)
    assert not plan.official_size
    assert any("not the official size" in n for n in plan.notes)
    with pytest.raises(UsageError, match="give only one"):
        plan_dataset(w, size_bytes=10, files=2)


def normalised(doc: dict[str, Any]) -> str:
    doc = dict(doc, created="<created>", mlmeter_version="<version>")
    return json.dumps(doc, indent=1) + "\n"


def test_manifest_golden(tmp_path: Path) -> None:
    plan = plan_dataset(load_workload("unet3d"), files=3, record_bytes=64, seed=5, subfolders=2)
    generate_dataset(plan, tmp_path / "d", threads=2)
    doc = json.loads((tmp_path / "d" / MANIFEST_NAME).read_text())
    assert doc["created"].endswith("Z") and doc["mlmeter_version"]
    text = normalised(doc)
    check_golden("storage_dataset.json", text)


def test_manifest_is_written_last(tmp_path: Path) -> None:
    seen: list[bool] = []

    def spy(path: Path, data: bytes) -> None:
        seen.append((tmp_path / "d" / MANIFEST_NAME).exists())
        write_file(path, data)

    generate_dataset(small(files=4), tmp_path / "d", write=spy)
    assert seen == [False] * 4
    assert [p.name for p in (tmp_path / "d").iterdir() if p.is_file()] == [MANIFEST_NAME]


def test_foreign_folder_needs_force(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"not an mlmeter dataset.*--force") as info:
        generate_dataset(small(), tmp_path / "d")
    assert "\n" not in str(info.value)
    generate_dataset(small(), tmp_path / "d", force=True)
    assert (tmp_path / "d" / "notes.txt").read_text() == "mine"
    with pytest.raises(UsageError, match="is a file"):
        generate_dataset(small(), tmp_path / "d" / "notes.txt")


def test_an_old_dataset_is_replaced(tmp_path: Path) -> None:
    generate_dataset(small(files=6), tmp_path / "d")
    m = generate_dataset(small(files=2, seed=1), tmp_path / "d")
    assert m.files == 2 and m.seed == 1
    assert sorted(p.name for p in (tmp_path / "d" / "train").iterdir()) == [
        "img_0_of_2.tfrecord",
        "img_1_of_2.tfrecord",
    ]


def test_not_enough_free_disk_before_writing(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    plan = small(files=2, record_bytes=free, samples_per_file=1)
    with pytest.raises(UsageError, match=r"not enough free disk: the dataset needs .* free") as e:
        generate_dataset(plan, tmp_path / "d")
    assert "--size" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "d").exists()  # nothing written


class FailAfter:
    """A write seam: the first ``n`` files are written, then the disk is 'full'."""

    def __init__(self, n: int, code: int = errno.ENOSPC) -> None:
        self.n, self.code, self.calls = n, code, 0

    def __call__(self, path: Path, data: bytes) -> None:
        self.calls += 1
        if self.calls > self.n:
            with open(path, "wb") as f:
                f.write(data[: len(data) // 2])  # a partial file, as a real full disk leaves
            raise OSError(self.code, os.strerror(self.code), str(path))
        write_file(path, data)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_full_disk_through_the_seam(tmp_path: Path, code: int) -> None:
    with pytest.raises(RunError, match=r"the disk filled up after .* partial files were removed"):
        generate_dataset(small(files=8), tmp_path / "d", threads=1, write=FailAfter(3, code))
    assert list((tmp_path / "d" / "train").iterdir()) == []
    assert not (tmp_path / "d" / MANIFEST_NAME).exists()
    with pytest.raises(UsageError, match="no mlmeter dataset here"):
        read_manifest(tmp_path / "d")


def test_other_write_errors_are_run_errors(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="cannot write a data file"):
        generate_dataset(small(files=3), tmp_path / "d", write=FailAfter(1, errno.EIO))


@contextlib.contextmanager
def tiny_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    ok = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if ok.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the seam test covers ENOSPC")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.mark.skipif(os.geteuid() != 0 or sys.platform != "linux", reason="needs root on Linux")
def test_full_disk_on_a_real_tmpfs(tmp_path: Path) -> None:
    """2 MB tmpfs: the plan fits when checked, then another writer fills the disk."""
    with tiny_tmpfs(tmp_path / "mnt", "2m") as mnt:
        plan = small(files=8, record_bytes=200_000, samples_per_file=1)  # 1.6 MB

        def write(path: Path, data: bytes) -> None:
            ballast = mnt / "ballast"
            if not ballast.exists():
                ballast.write_bytes(bytes(1_000_000))
            write_file(path, data)

        with pytest.raises(RunError, match="the disk filled up") as info:
            generate_dataset(plan, mnt / "d", threads=2, write=write)
        assert "\n" not in str(info.value)
        assert list((mnt / "d" / "train").iterdir()) == []
        assert not (mnt / "d" / MANIFEST_NAME).exists()
        too_big = small(files=12, record_bytes=200_000, samples_per_file=1)
        with pytest.raises(UsageError, match="not enough free disk"):
            generate_dataset(too_big, mnt / "e")


def test_hdf5_without_h5py(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(UsageError, match=r"pip install 'mlmeter\[storage\]'"):
        generate_dataset(small("hdf5"), tmp_path / "d")


def test_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="run `mlmeter storage datagen"):
        read_manifest(tmp_path)
    generate_dataset(small(files=1), tmp_path / "d")
    path = tmp_path / "d" / MANIFEST_NAME
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(dict(doc, version=2)))
    with pytest.raises(UsageError, match="version 2"):
        read_manifest(tmp_path / "d")
    path.write_text("{")
    with pytest.raises(UsageError, match="not a readable mlmeter dataset manifest"):
        read_manifest(tmp_path / "d")


def test_npz_matches_what_numpy_reads_from_memory(tmp_path: Path) -> None:
    m = generate_dataset(small("npz", files=1), tmp_path / "d")
    raw = m.file_paths()[0].read_bytes()
    with np.load(io.BytesIO(raw)) as z:
        assert z["x"].shape == (3, 1000)
