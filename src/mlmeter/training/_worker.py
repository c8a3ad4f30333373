"""A rank of a launched training run: ``python -m mlmeter.training._worker JOB.json``.

Joins the process group, runs the job, and (local rank 0 of each node) writes the
outcome for its node's launcher. SIGTERM from the
launcher raises ``RunInterrupted`` so the log still ends with ``run_stop`` (aborted).
"""

from __future__ import annotations

import signal
import sys
import traceback
from pathlib import Path
from types import FrameType

from mlmeter.errors import MlmeterError, RunInterrupted
from mlmeter.training._dist import env_rank, init_distributed, shutdown_distributed
from mlmeter.training._harness import run_training
from mlmeter.training._job import Job, outcome_to_json, write_atomic
from mlmeter.training._registry import get_training_workload


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise RunInterrupted("stopped by the launcher (another rank failed or the time ran out)")


def run_job(job: Job) -> int:
    """Run ``job`` as the rank the environment names; return the exit code."""
    comm = init_distributed(job.opts.device, job.comm_timeout_s)
    local_rank = env_rank()[2]
    try:
        workload = get_training_workload(job.workload)
        outcome = run_training(
            workload, job.opts, job.log, info=job.info, comm=comm, time_limit_s=job.time_limit_s
        )
        if local_rank == 0 and job.outcome is not None:  # every node's launcher reads one
            write_atomic(job.outcome, outcome_to_json(outcome))
        return 0
    finally:
        shutdown_distributed()


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m mlmeter.training._worker JOB.json", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run_job(Job.from_json(Path(args[0]).read_text(encoding="utf-8")))
    except MlmeterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
