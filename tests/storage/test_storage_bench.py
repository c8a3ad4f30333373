"""``benchmarks/storage_reader.py`` end to end on a tiny dataset (fio when installed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "storage_reader.py"
pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("hide_fio", [False, True])
def test_storage_reader_benchmark_quick(tmp_path: Path, hide_fio: bool) -> None:
    out = tmp_path / "bench.json"
    env = {**os.environ, "PATH": str(tmp_path)} if hide_fio else None  # an empty PATH: no fio
    has_fio = shutil.which("fio") is not None and not hide_fio
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--size",
        "8",
        "--file-mb",
        "1",
        "--repeat",
        "2",
        "--json",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=80, check=False, env=env)
    assert proc.returncode in (0, 1), proc.stderr  # 1: the target missed on a busy machine
    assert "sequential read MB/s, reader vs fio" in proc.stdout
    data = json.loads(out.read_text())
    assert data["format_version"] == 1 and data["benchmark"] == "storage_reader"
    assert data["dataset"]["files"] == 8 and len(data["passes"]["ours"]) == 2
    row = data["rows"][0]
    assert row["measured"] > 0 and row["target"] == ">= 0.9x"
    if has_fio:
        assert data["fio"] and len(data["passes"]["fio"]) == 2
        assert row["ratio"] == pytest.approx(row["measured"] / row["reference"])
        assert row["passed"] == (row["ratio"] >= 0.9)
    else:
        assert row["ratio"] is None and "fio is not on PATH" in row["note"]
    assert (proc.returncode == 0) == all(r["passed"] is not False for r in data["rows"])
    if not has_fio and not hide_fio:
        pytest.skip("fio is not on PATH (apt-get install fio): the comparison was skipped")
