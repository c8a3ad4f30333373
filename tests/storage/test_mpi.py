"""Several clients: thread ranks (LocalComm), MPI detection, and ``mpirun -np 2`` on one host."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmeter.errors import UsageError
from mlmeter.storage._comm import LocalComm, agree, run_local
from mlmeter.storage._mpi import INSTALL_HINT, launcher_size, mpi_comm

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]
MPIRUN = shutil.which(
    "mpirun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
)
HAS_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    MPIRUN is None or not HAS_MPI4PY,
    reason=f"mpirun or mpi4py missing: {INSTALL_HINT} (the mpich wheel provides mpirun)",
)


def storage_cmd(sub: str, *args: str) -> list[str]:
    """``python -m mlmeter storage SUB ...`` with this interpreter."""
    return [sys.executable, "-m", "mlmeter", "storage", sub, *args]


def mpirun(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert MPIRUN is not None
    return subprocess.run(
        [MPIRUN, "-np", "2", *cmd], capture_output=True, text=True, timeout=timeout, check=False
    )


# ------------------------------------------------------------------ thread ranks


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6))
def test_local_allreduce_gather_bcast(values: list[float]) -> None:
    def rank(comm: LocalComm) -> tuple[float, list[object] | None, object]:
        x = values[comm.rank]
        return comm.allreduce_sum(x), comm.gather(x), comm.bcast(x * 2)

    out = run_local(len(values), rank)
    expected = float(sum(values))
    assert all(total == expected for total, _g, _b in out)
    assert out[0][1] == values and all(g is None for _t, g, _b in out[1:])
    assert all(b == values[0] * 2 for _t, _g, b in out)


def test_barrier_holds_every_rank() -> None:
    arrived: list[int] = []
    lock = threading.Lock()

    def rank(comm: LocalComm) -> int:
        with lock:
            arrived.append(comm.rank)
        comm.barrier()
        with lock:
            return len(arrived)

    assert run_local(4, rank) == [4, 4, 4, 4]


def test_a_failing_rank_releases_the_others() -> None:
    def rank(comm: LocalComm) -> None:
        if comm.rank == 1:
            raise ValueError("rank 1 broke")
        comm.barrier()

    with pytest.raises(ValueError, match="rank 1 broke"):
        run_local(3, rank)


def test_agree_raises_the_first_error_on_every_rank() -> None:
    def rank(comm: LocalComm) -> str:
        try:
            agree(comm, UsageError(f"bad {comm.rank}") if comm.rank else None)
        except UsageError as exc:
            return str(exc)
        return "none"

    assert run_local(3, rank) == ["bad 1"] * 3


# ------------------------------------------------------------------ MPI detection


def test_no_launcher_means_no_mpi() -> None:
    assert launcher_size({}) is None
    assert mpi_comm({}) is None
    assert launcher_size({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert launcher_size({"PMI_SIZE": "2"}) == 2


def test_launcher_without_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # the import fails
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    with pytest.raises(UsageError, match=r"pip install 'mlmeter\[storage-mpi\]'") as info:
        mpi_comm({"PMI_SIZE": "2"})
    assert "\n" not in str(info.value)


# ------------------------------------------------------------------ mpirun -np 2


@needs_mpi
def test_mpirun_checkpoint_merges_both_ranks_on_rank_0(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["llama3-8b", "--folder", str(tmp_path / "c"), "--num-write", "2", "--num-read", "2"]
    args += ["--size-per-rank", "512kB", "--interval", "0", "--output", str(out)]
    proc = mpirun(storage_cmd("checkpoint", *args))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "checkpoint_summary.json").read_text())
    assert doc["clients"]["ranks"] == 2 and doc["clients"]["launcher"] == "mpi"
    assert [r["rank"] for r in doc["ranks"]] == [0, 1]
    assert sorted(w for r in doc["ranks"] for w in r["world_ranks"]) == list(range(8))
    assert all(r["chunks_verified"] > 0 for r in doc["ranks"])
    assert proc.stdout.count("llama3-8b: 2 ranks") == 1  # only rank 0 reports
    assert not list((tmp_path / "c").rglob("*.bin"))


@needs_mpi
def test_mpirun_errors_are_one_line_on_every_rank(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    args = ["llama3-8b", "--folder", str(tmp_path / "file" / "c"), "--size-per-rank", "1kB"]
    proc = mpirun(storage_cmd("checkpoint", *args, "--interval", "0"))
    assert proc.returncode != 0
    assert proc.stderr.count("is not writable") == 2  # both ranks leave with the same line


@needs_mpi
def test_mpirun_storage_run_merges_both_ranks(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    # 48 one-sample files: 24 per rank, 3 steps of unet3d's official batch of 7
    gen = storage_cmd("datagen", "unet3d", "--data", str(data), "--files", "48")
    gen += ["--record-bytes", "16384"]
    made = subprocess.run(gen, capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    args = ["unet3d", "--data", str(data), "--compute-ms", "10", "--runs", "1", "--epochs", "2"]
    args += ["--read-threads", "2", "--allow-small", "--output", str(out)]
    proc = mpirun(storage_cmd("run", *args))
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # 1: AU below the threshold
    assert proc.stdout.count("[METRIC] Number of Simulated Accelerators: 2") == 1  # rank 0 only
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_accelerators"] == 2 and summary["num_files_train"] == 48
    assert len(summary["metric"]["train_au_percentage"]) == 2  # one per epoch
    doc = json.loads((out / "mlmeter_storage.json").read_text())
    assert doc["settings"]["accelerators"] == 2
    assert (proc.returncode == 0) == (summary["metric"]["train_au_meet_expectation"] == "success")
