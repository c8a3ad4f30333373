"""Several processes on loopback: rank 0 logs, a lost or stuck rank ends the run, no hang."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlmeter.training import SubmissionInfo, TrainOptions, keys, read_mllog
from mlmeter.training._job import Job
from mlmeter.training._launch import LaunchFailed, Topology, finish_log, free_port, launch


def _job(tmp_path: Path, **extra: object) -> Job:
    opts = TrainOptions(seed=3, extra=dict(extra))
    return Job("synthetic", opts, tmp_path / "result_0.txt", SubmissionInfo(), comm_timeout_s=30)


def test_two_ranks_reach_the_target_and_only_rank0_logs(tmp_path: Path) -> None:
    outcome = launch(_job(tmp_path), Topology(nproc=2), tmp_path / "work")
    assert outcome.converged
    events = read_mllog(tmp_path / "result_0.txt")
    assert sum(e.key == keys.RUN_START for e in events) == 1
    assert sum(e.key == keys.RUN_STOP for e in events) == 1
    assert sorted(p.name for p in (tmp_path / "work").glob("*.out")) == [
        "result_0.rank0.out",
        "result_0.rank1.out",
    ]


def test_a_stuck_run_is_stopped_at_the_hard_deadline(tmp_path: Path) -> None:
    job = _job(tmp_path, sleep_s=60)
    started = time.monotonic()
    with pytest.raises(LaunchFailed, match="did not end within 2 s of run_start") as info:
        launch(job, Topology(nproc=2), tmp_path / "work", hard_timeout_s=2)
    assert time.monotonic() - started < 50
    stop = read_mllog(tmp_path / "result_0.txt")[-1]
    assert stop.key == keys.RUN_STOP and stop.status == keys.ABORTED
    assert info.value.outcome.status == "aborted"


def test_killed_rank_ends_the_job_with_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "org"
    argv = ["train", "synthetic", "--runs", "3", "--seed", "5", "--output", str(out)]
    argv += ["--nproc", "2", "--set", "sleep_s=0.3", "--set", "target=0.99"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlmeter", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = out / "results"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        logs = list(log.glob("*/resnet/result_0.txt"))
        if logs and "eval_accuracy" in logs[0].read_text():
            break
        time.sleep(0.1)
    victims = [
        c
        for c in psutil.Process(proc.pid).children(recursive=True)
        if c.environ().get("RANK") == "1"
    ]
    assert len(victims) == 1
    victims[0].kill()
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert "run 1/3 seed 5: ABORTED" in stdout and "was killed by SIGKILL" in stdout
    assert stderr.startswith("error: rank 1 (pid ") and "2 runs not started" in stderr
    stop = read_mllog(logs[0])[-1]
    assert stop.key == keys.RUN_STOP and stop.status == keys.ABORTED
    assert not (logs[0].parent / "result_1.txt").exists()


def test_finish_log_ends_a_cut_line_and_adds_run_stop_once(tmp_path: Path) -> None:
    log = tmp_path / "r.txt"
    log.write_text(':::MLLOG {"namespace": "", "time_ms": 1, "event_type": "INTERVAL_START", '
                   '"key": "run_start", "value": null, "metadata": {"file": "x", "lineno": 1}}\n'
                   ':::MLLOG {"namespace": "", "time_')  # fmt: skip
    finish_log(log, "rank 0 was killed by SIGKILL")
    finish_log(log, "again")
    events = read_mllog(log, strict=False)
    assert [e.key for e in events] == [keys.RUN_START, keys.RUN_STOP]
    assert events[-1].metadata["reason"] == "rank 0 was killed by SIGKILL"


def test_topology_validates() -> None:
    with pytest.raises(ValueError, match="--node-rank 2"):
        Topology(nproc=1, nnodes=2, node_rank=2, master_port=1234)
    assert Topology(nproc=4, nnodes=2, node_rank=1, master_port=1234).world_size == 8


def test_two_nodes_on_loopback(tmp_path: Path) -> None:
    port = str(free_port())
    common = ["train", "synthetic", "--runs", "2", "--seed", "3", "--nnodes", "2"]
    common += ["--master-port", port]
    nodes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlmeter",
                *common,
                "--node-rank",
                str(r),
                "--output",
                str(tmp_path / f"node{r}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (1, 0)
    ]
    outputs = [p.communicate(timeout=240) for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], outputs
    assert "node 1: 2 runs done" in outputs[0][0]
    assert "run 2/2 seed 4: success" in outputs[1][0]
    assert not list((tmp_path / "node1").glob("results/*/*/result_*.txt"))
    for log in sorted((tmp_path / "node0").glob("results/*/resnet/result_*.txt")):
        events = read_mllog(log)
        assert sum(e.key == keys.RUN_START for e in events) == 1
        assert events[-1].status == keys.SUCCESS
