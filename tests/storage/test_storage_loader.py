"""The readers and the prefetching loader on real files, threads and processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlmeter.errors import RunError
from mlmeter.storage._datagen import generate_dataset
from mlmeter.storage._dataset_plan import plan_dataset
from mlmeter.storage._formats import DatasetManifest, encode_tfrecord
from mlmeter.storage._loader import Batch, Loader
from mlmeter.storage._reader import (
    ReadOptions,
    Throttle,
    npz_arrays,
    read_bytes,
    read_file,
    tfrecord_offsets,
)
from mlmeter.storage._specs import load_workload

pytestmark = pytest.mark.timeout(60)


def dataset(
    root: Path, name: str, files: int, record: int, spf: int | None = None
) -> DatasetManifest:
    plan = plan_dataset(load_workload(name), files=files, record_bytes=record, samples_per_file=spf)
    return generate_dataset(plan, root)


def paths(ds: DatasetManifest) -> list[str]:
    return [str(p) for p in ds.file_paths()]


def test_read_bytes_reads_the_whole_file_in_small_blocks(tmp_path: Path) -> None:
    data = np.random.default_rng(1).bytes(100_000)
    (tmp_path / "f").write_bytes(data)
    assert bytes(read_bytes(tmp_path / "f", block_bytes=4096)) == data


@pytest.mark.parametrize(("name", "spf"), [("unet3d", None), ("resnet50", 10)])
def test_read_file_counts_samples_and_bytes(tmp_path: Path, name: str, spf: int | None) -> None:
    ds = dataset(tmp_path, name, 3, 2048, spf)
    opts = ReadOptions(ds.file_format, ds.samples_per_file, verify_crc=True)
    for p, size in zip(paths(ds), ds.file_bytes, strict=True):
        got = read_file(p, opts)
        assert (got.samples, got.nbytes) == (ds.samples_per_file, size)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_arrays_match_np_load(tmp_path: Path, save: Any) -> None:
    rng = np.random.default_rng(2)
    arrays = {
        "x": rng.integers(0, 255, (3, 50), dtype=np.uint8),
        "y": np.arange(3.0),
        "f": np.asfortranarray(rng.random((4, 5))),
    }
    save(tmp_path / "a.npz", **arrays)
    got = npz_arrays(memoryview((tmp_path / "a.npz").read_bytes()))
    assert set(got) == set(arrays)
    for name, want in arrays.items():
        np.testing.assert_array_equal(got[name], want)
        assert got[name].dtype == want.dtype


def test_tfrecord_framing_and_crcs(tmp_path: Path) -> None:
    rows = np.arange(5 * 7, dtype=np.uint8).reshape(5, 7)
    data = bytearray(encode_tfrecord(rows))
    offsets = tfrecord_offsets(data, verify_crc=True)
    assert [bytes(data[o : o + n]) for o, n in offsets] == [r.tobytes() for r in rows]
    data[12 + 3] ^= 0xFF  # a payload byte of the first record
    tfrecord_offsets(data)  # framing alone still fine
    with pytest.raises(RunError, match="data CRC"):
        tfrecord_offsets(data, verify_crc=True)
    with pytest.raises(RunError, match="truncated"):
        tfrecord_offsets(data[:-2])


@pytest.mark.parametrize("workers", ["threads", "processes"])
def test_an_epoch_yields_every_full_batch(tmp_path: Path, workers: str) -> None:
    ds = dataset(tmp_path, "resnet50", 6, 512, spf=5)  # 30 samples
    opts = ReadOptions(ds.file_format, ds.samples_per_file)
    with Loader(opts, batch_size=4, read_threads=2, prefetch_size=2, workers=workers) as loader:
        with loader.epoch(paths(ds), steps=100) as batches:
            got = list(batches)
        with loader.epoch(paths(ds)[:2], steps=100) as batches:
            second = list(batches)
    assert got == [Batch(4, b.nbytes) for b in got] and len(got) == 30 // 4
    assert sum(b.nbytes for b in got) == sum(ds.file_bytes)  # the leftover 2 samples' file too
    assert len(second) == 10 // 4


def test_steps_cap_an_epoch(tmp_path: Path) -> None:
    ds = dataset(tmp_path, "unet3d", 12, 256)
    opts = ReadOptions(ds.file_format, 1)
    with Loader(opts, batch_size=2, read_threads=2) as loader, loader.epoch(paths(ds), 3) as it:
        assert len(list(it)) == 3


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def test_early_stop_leaves_no_thread(tmp_path: Path) -> None:
    ds = dataset(tmp_path, "unet3d", 20, 256)
    before = threading.active_count()
    opts = ReadOptions(ds.file_format, 1, delay_s=0.01)
    loader = Loader(opts, batch_size=1, read_threads=3, prefetch_size=1)
    with loader, loader.epoch(paths(ds), steps=20) as batches:
        next(batches)
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before, _threads()


@pytest.mark.parametrize("workers", ["threads", "processes"])
def test_a_failed_read_reaches_the_consumer(tmp_path: Path, workers: str) -> None:
    ds = dataset(tmp_path, "unet3d", 6, 256)
    files = paths(ds)
    Path(files[3]).write_bytes(b"not a zip file")
    opts = ReadOptions(ds.file_format, 1)
    loader = Loader(opts, batch_size=1, read_threads=2, workers=workers)
    with loader, loader.epoch(files, steps=6) as batches, pytest.raises(RunError, match="npz"):
        list(batches)


def test_the_throttle_caps_the_bandwidth_of_all_threads(tmp_path: Path) -> None:
    ds = dataset(tmp_path, "unet3d", 8, 10_000)
    rate = sum(ds.file_bytes) / 0.4  # the whole dataset should take 0.4 s
    opts = ReadOptions(ds.file_format, 1)
    t0 = time.perf_counter()
    loader = Loader(opts, batch_size=1, read_threads=4, throttle=Throttle(rate))
    with loader, loader.epoch(paths(ds), steps=8) as batches:
        assert len(list(batches)) == 8
    assert time.perf_counter() - t0 >= 0.4 * 0.95
