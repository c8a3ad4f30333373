"""The official dataset size: 500 steps per epoch and five times the clients' RAM."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.errors import UsageError
from mlmeter.storage._sizing import (
    data_size,
    host_memory_bytes,
    min_files,
    min_samples,
    parse_size,
)
from mlmeter.storage._specs import load_workload

GIB = 2**30
BASE = load_workload("unet3d")


def _workload(record: int, batch: int, spf: int):  # type: ignore[no-untyped-def]
    return dataclasses.replace(BASE, record_bytes=record, batch_size=batch, samples_per_file=spf)


sizes = st.builds(
    _workload,
    record=st.integers(1, 2**28),
    batch=st.integers(1, 1024),
    spf=st.integers(1, 2000),
)


@given(
    w=sizes,
    acc=st.integers(1, 4096),
    hosts=st.integers(1, 64),
    mem=st.integers(0, 2**41),
)
def test_min_samples_is_the_least_that_meets_both_rules(w, acc, hosts, mem) -> None:  # type: ignore[no-untyped-def]
    n = min_samples(w, acc, hosts, mem)
    steps_ok = n // (w.batch_size * acc) >= 500
    memory_ok = n * w.record_bytes >= 5 * hosts * mem
    assert steps_ok and memory_ok
    m = n - 1
    assert m // (w.batch_size * acc) < 500 or m * w.record_bytes < 5 * hosts * mem


@given(w=sizes, samples=st.integers(1, 10**9))
def test_files_hold_the_samples(w, samples) -> None:  # type: ignore[no-untyped-def]
    f = min_files(w, samples)
    assert f * w.samples_per_file >= samples > (f - 1) * w.samples_per_file


@given(w=sizes, acc=st.integers(1, 512), hosts=st.integers(1, 8), mem=st.integers(0, 2**40))
def test_more_accelerators_or_hosts_never_shrink_the_dataset(w, acc, hosts, mem) -> None:  # type: ignore[no-untyped-def]
    n = min_samples(w, acc, hosts, mem)
    assert min_samples(w, acc + 1, hosts, mem) >= n
    assert min_samples(w, acc, hosts + 1, mem) >= n


@given(acc=st.integers(1, 64), mem=st.integers(1, 2**40))
def test_data_size_is_whole_files(acc: int, mem: int) -> None:
    w = load_workload("resnet50")
    size = data_size(w, acc, 2, mem)
    assert size.samples == size.files * 1251
    assert size.samples >= min_samples(w, acc, 2, mem)
    assert size.bytes == size.samples * 114_660
    assert size.limited_by == ("memory" if 10 * mem > 114_660 * 200_000 * acc else "steps")


def test_worked_example_unet3d_h100() -> None:
    """1 host of 128 GiB: the memory rule needs 4,688 samples; 8 accelerators need 28,000."""
    w = load_workload("unet3d", "h100")
    by_memory = -(-5 * 128 * GIB // 146_600_628)
    assert by_memory == 4688
    assert min_samples(w, 8, 1, 128 * GIB) == 500 * 7 * 8 == 28_000
    assert min_samples(w, 1, 1, 128 * GIB) == 4688  # 3,500 steps-samples < the memory rule


def test_host_memory_from_meminfo(tmp_path: Path) -> None:
    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal:       24576000 kB\nMemFree:  1 kB\n")
    assert host_memory_bytes(fake) == 24_576_000 * 1024
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert host_memory_bytes(tmp_path / "missing") == pages
    assert host_memory_bytes() > 0
    assert data_size(BASE, 1).mem_bytes_per_host == host_memory_bytes()


@pytest.mark.parametrize(
    ("acc", "hosts", "mem", "flag"), [(0, 1, 1, "--accelerators"), (1, 0, 1, "--hosts")]
)
def test_bad_counts(acc: int, hosts: int, mem: int, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        min_samples(BASE, acc, hosts, mem)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("64MB", 64 * 10**6), ("1GiB", 2**30), ("1MiB", 2**20), ("4096", 4096),
     ("1.5GB", 15 * 10**8), (".5kB", 500), ("1e6", 10**6), ("2k", 2000), ("3Ki", 3 * 1024),
     ("10b", 10), (" 7 tb ", 7 * 10**12), ("256kB", 256_000), ("0.29kb", 290)],
)  # fmt: skip
def test_parse_size_decimal_and_binary(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@given(n=st.integers(0, 10**6), unit=st.sampled_from(["", "k", "M", "G", "T"]),
       binary=st.booleans(), b=st.sampled_from(["", "b", "B"]))  # fmt: skip
def test_parse_size_units(n: int, unit: str, binary: bool, b: str) -> None:
    power = "_kmgt".index(unit.lower() or "_")
    i = "i" if binary and unit else ""
    assert parse_size(f"{n}{unit}{i}{b}") == n * ((1024 if i else 1000) ** power)


@pytest.mark.parametrize("text", ["lots", "", "5 MBs", "1.2.3k", "-1MB", "kB"])
def test_parse_size_refuses_with_the_flag(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--size-per-rank .*: use a size such as 64MB"):
        parse_size(text, "--size-per-rank")
