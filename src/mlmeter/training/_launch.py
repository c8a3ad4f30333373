"""Start the ranks of one training run and watch them: a dead rank never hangs the job.

``launch`` starts ``nproc`` worker processes on this node (ranks ``node_rank * nproc``
onwards) and polls them. When one exits with an error, the others get ``grace_s`` to
fail on their own (their collectives notice the lost peer), then SIGTERM, then SIGKILL.
The log is then completed with ``run_stop`` (status aborted, with the reason) if no rank
could write it, so a failed run's log is kept and still well-formed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from mlmeter.errors import RunError
from mlmeter.training import _keys
from mlmeter.training._harness import RunOutcome
from mlmeter.training._job import Job, outcome_from_json
from mlmeter.training._mllog import MllogLogger, read_mllog
from mlmeter.training._results import read_logged_run


class LaunchFailed(RunError):
    """A rank of a launched run died or the run overran its hard deadline.

    ``outcome`` is the aborted run; its log (if any) already ends with ``run_stop``.
    """

    def __init__(self, message: str, outcome: RunOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class Topology:
    """Where the ranks of a run live: ``nproc`` per node on ``nnodes`` nodes."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int | None = None  # a free port on node 0 when None

    def __post_init__(self) -> None:
        if self.nproc < 1 or self.nnodes < 1:
            raise ValueError(f"--nproc and --nnodes must be >= 1, got {self.nproc}, {self.nnodes}")
        if not 0 <= self.node_rank < self.nnodes:
            raise ValueError(f"--node-rank {self.node_rank} is not in [0, {self.nnodes})")
        if self.nnodes > 1 and self.master_port is None:
            raise ValueError("--master-port is required with --nnodes > 1")

    @property
    def world_size(self) -> int:
        """Ranks in the whole run."""
        return self.nproc * self.nnodes


@dataclass
class _Rank:
    rank: int
    proc: subprocess.Popen[bytes]
    output: Path
    handle: IO[bytes]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def launch(
    job: Job,
    topology: Topology,
    work_dir: Path,
    *,
    grace_s: float = 10.0,
    hard_timeout_s: float | None = None,
    init_timeout_s: float = 4 * 3600.0,
    poll_s: float = 0.05,
) -> RunOutcome:
    """Run ``job`` over the ranks of this node; return rank 0's outcome.

    Raises ``LaunchFailed`` when a rank dies, when ``run_start`` is not logged within
    ``init_timeout_s`` (the open division's 4 h initialisation budget by default), or
    when the run is still going ``hard_timeout_s`` after its ``run_start``.

    The job file, each rank's output (``<log stem>.rank<k>.out``) and the outcome go
    into ``work_dir``, not next to the log.
    """
    port = topology.master_port or free_port()
    work_dir.mkdir(parents=True, exist_ok=True)
    job_file = work_dir / f"{job.log.stem}.job.json"
    outcome_path = job.outcome or work_dir / f"{job.log.stem}.outcome.json"
    job = replace(job, outcome=outcome_path)
    outcome_path.unlink(missing_ok=True)
    job_file.write_text(job.to_json(), encoding="utf-8")
    ranks = [_start(job_file, topology, local, port) for local in range(topology.nproc)]
    try:
        deadlines = _Deadlines(job.log, init_timeout_s, hard_timeout_s)
        failure = _watch(ranks, grace_s, deadlines, poll_s)
    except BaseException:
        _stop(ranks, 0.0)
        raise
    finally:
        for r in ranks:
            r.handle.close()
    if failure:
        if topology.node_rank == 0:
            finish_log(job.log, failure)
        logged = read_logged_run(job.log).time_to_train_s if job.log.exists() else None
        aborted = RunOutcome(job.opts.seed, "aborted", logged, None, failure)
        raise LaunchFailed(failure, aborted)
    return outcome_from_json(outcome_path.read_text(encoding="utf-8"))


def _start(job_file: Path, topo: Topology, local: int, port: int) -> _Rank:
    rank = topo.node_rank * topo.nproc + local
    env = dict(os.environ)
    env.update(
        RANK=str(rank),
        LOCAL_RANK=str(local),
        WORLD_SIZE=str(topo.world_size),
        MASTER_ADDR=topo.master_addr,
        MASTER_PORT=str(port),
    )
    output = job_file.with_name(f"{job_file.name.split('.')[0]}.rank{rank}.out")
    handle = output.open("wb")
    cmd = [sys.executable, "-m", "mlmeter.training._worker", str(job_file)]
    proc = subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return _Rank(rank, proc, output, handle)


class _Deadlines:
    """The initialisation budget until ``run_start`` is in the log, then the run's limit."""

    def __init__(self, log: Path, init_s: float, run_s: float | None) -> None:
        self.log, self.init_s, self.run_s = log, init_s, run_s
        self.launched = time.monotonic()
        self.run_started: float | None = None
        self._next_look = 0.0

    def problem(self) -> str:
        now = time.monotonic()
        if self.run_started is None and now >= self._next_look:
            self._next_look = now + 0.25
            if self.log.exists() and f'"{_keys.RUN_START}"' in self.log.read_text("latin-1"):
                self.run_started = now
        if self.run_started is None:
            if now - self.launched > self.init_s:
                return f"initialisation took over {self.init_s:g} s without run_start"
            return ""
        if self.run_s is not None and now - self.run_started > self.run_s:
            return f"time limit: the run did not end within {self.run_s:g} s of run_start"
        return ""


def _watch(ranks: list[_Rank], grace_s: float, deadlines: _Deadlines, poll_s: float) -> str:
    while True:
        codes = [r.proc.poll() for r in ranks]
        bad = [(r, c) for r, c in zip(ranks, codes, strict=True) if c not in (None, 0)]
        if bad:
            first, code = bad[0]
            _stop(ranks, grace_s)
            return f"rank {first.rank} (pid {first.proc.pid}) {_describe_exit(code)}{_tail(first)}"
        if all(c == 0 for c in codes):
            return ""
        problem = deadlines.problem()
        if problem:
            _stop(ranks, 0.0)
            return f"{problem}; ranks stopped"
        time.sleep(poll_s)


def _stop(ranks: list[_Rank], grace_s: float) -> None:
    """Let the survivors fail on their own for ``grace_s``, then SIGTERM, then SIGKILL."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(r.proc.poll() is None for r in ranks):
        time.sleep(0.05)
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        alive = [r for r in ranks if r.proc.poll() is None]
        for r in alive:
            r.proc.send_signal(sig)
        for r in alive:
            with contextlib.suppress(subprocess.TimeoutExpired):
                r.proc.wait(wait_s)


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _tail(rank: _Rank) -> str:
    rank.handle.flush()
    lines = rank.output.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    last = errors[-1] if errors else (lines[-1] if lines else "")
    return f": {last.strip()[:300]}" if last else ""


def finish_log(log: Path, reason: str) -> None:
    """Append ``run_stop`` (aborted, with ``reason``) to ``log`` unless it has one."""
    if not log.exists():
        return
    events = read_mllog(log, strict=False)
    if any(e.key == _keys.RUN_STOP for e in events):
        return
    with log.open("rb+") as fh:  # a rank killed mid-line leaves no newline: end that line
        fh.seek(0, os.SEEK_END)
        if fh.tell() > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
    with MllogLogger(log, rank=None) as logger:
        logger.end(_keys.RUN_STOP, status=_keys.ABORTED, metadata={"reason": reason[:300]})
