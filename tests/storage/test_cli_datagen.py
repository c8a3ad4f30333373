"""``mlmeter storage datasize`` and ``mlmeter storage datagen`` through ``mlmeter.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlmeter.cli import main as cli_main
from mlmeter.cli import storage
from mlmeter.storage._formats import MANIFEST_NAME, read_manifest
from mlmeter.storage._specs import load_workload

pytestmark = pytest.mark.timeout(60)


def mlmeter(*argv: str) -> int:
    return cli_main.main(list(argv))


def test_subcommands_listed() -> None:
    names = [name for name, _, _ in storage.SUBCOMMANDS]
    assert names[:2] == ["datasize", "datagen"]


def test_datasize(capsys: pytest.CaptureFixture[str]) -> None:
    mem_gb = 64
    code = mlmeter("storage", "datasize", "unet3d", "--accelerators", "2", "--mem-gb", str(mem_gb))
    out = capsys.readouterr().out
    assert code == 0
    by_memory = -(-mem_gb * 2**30 * 5 // 146_600_628)  # 2,344: under 500 x 7 x 2 = 7,000
    assert f"samples by 5 x RAM: {by_memory}" in out
    assert "minimum samples: 7000 (set by steps)" in out
    assert "minimum files: 7000" in out


def test_datasize_memory_bound(capsys: pytest.CaptureFixture[str]) -> None:
    code = mlmeter(
        "storage", "datasize", "resnet50", "--accelerators", "1", "--hosts", "4", "--mem-gb", "256"
    )
    out = capsys.readouterr().out
    samples = -(-4 * 256 * 2**30 * 5 // 114_660)
    files = -(-samples // 1251)
    assert code == 0
    assert f"minimum samples: {files * 1251} (set by memory)" in out
    assert f"minimum files: {files} (1251 samples per file)" in out


def test_datagen_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    code = mlmeter(
        "storage", "datagen", "unet3d", "--data", str(data), "--files", "4",
        "--record-bytes", "4096", "--seed", "9", "--threads", "2", "--subfolders", "2",
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("wrote 4 npz files, 4 samples, ") and str(data) in out
    assert "note: not the official size: --files 4" in err
    m = read_manifest(data)
    assert (m.workload, m.seed, m.files, m.official_size) == ("unet3d", 9, 4, False)
    with np.load(m.file_paths()[0]) as z:
        assert z["x"].shape == (1, m.record_bytes[0])


def test_datagen_size_and_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("h5py")
    data = tmp_path / "d"
    code = mlmeter(
        "storage", "datagen", "resnet50", "--data", str(data), "--size", "1MB",
        "--record-bytes", "1000", "--samples-per-file", "100", "--format", "hdf5",
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    doc = json.loads((data / MANIFEST_NAME).read_text())
    assert doc["files"] == 10 and doc["file_format"] == "hdf5"
    assert any("--size 1.00 MB" in n for n in doc["notes"])


def test_datagen_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    data.mkdir()
    (data / "keep.txt").write_text("x")
    code = mlmeter("storage", "datagen", "cosmoflow", "--data", str(data), "--files", "1")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "--force" in err
    code = mlmeter("storage", "datagen", "cosmoflow", "--data", str(data), "--size", "lots")
    assert code == 2 and "64MB" in capsys.readouterr().err


def test_datagen_official_size_too_big_for_the_disk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The official unet3d size for 1,000 accelerators (3.5 million samples) fits nowhere."""
    w = load_workload("unet3d")
    needed = 500 * w.batch_size * 1000 * w.record_bytes
    assert needed > 10**14
    code = mlmeter(
        "storage", "datagen", "unet3d", "--data", str(tmp_path / "d"), "--accelerators", "1000"
    )
    err = capsys.readouterr().err
    assert code == 2 and "not enough free disk" in err and err.count("\n") == 1
    assert not (tmp_path / "d").exists()
