"""``benchmarks/training_overhead.py`` runs end to end (on the numpy test double)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "training_overhead.py"


def test_overhead_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--workload",
            "synthetic",
            "--repeat",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| time to train, median (s)" in proc.stdout
    data = json.loads(out.read_text())
    assert data["same_convergence"] is True and len(data["pairs"]) == 2
    assert all(p["bare_at"] == p["harness_at"] is not None for p in data["pairs"])
    assert data["harness_alone_us_per_block"] > 0
