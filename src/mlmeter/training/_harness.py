"""The generic time-to-train loop: a workload's callbacks, the harness's clock and rules.

``run_training`` logs submission info, ``cache_clear``, ``init_start``, the seed and the
workload's hyperparameters; builds the trainer (untimed); logs ``init_stop`` and
``run_start`` *before* the trainer first touches the data; then trains block by block,
evaluating at the spec's cadence, and stops on the target (``success``), on a NaN or
infinite loss, past the time limit, or when ``max_units`` is reached (``aborted``).
Ranks agree on every decision through the ``Comm``, so they stop at the same block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mlmeter.training._comm import Comm, LocalComm
from mlmeter.training._run import (
    Status,
    TrainingAborted,
    TrainingDiverged,
    TrainingRun,
)
from mlmeter.training._spec import BenchmarkSpec, SubmissionInfo
from mlmeter.training._workload import Trainer, TrainingWorkload, TrainOptions


@dataclass(frozen=True)
class RunOutcome:
    """How one run ended: its status, time to train and convergence point."""

    seed: int
    status: Status
    time_to_train_s: float | None  # run_start..run_stop as logged
    reached_at: float | None  # epochs or samples at the first eval meeting the target
    reason: str = ""
    evals: tuple[tuple[float, float], ...] = ()

    @property
    def converged(self) -> bool:
        """Whether the run reached its target (``run_stop`` status ``success``)."""
        return self.status == "success"


def run_training(
    workload: TrainingWorkload,
    opts: TrainOptions,
    log: str | Path | IO[str],
    *,
    info: SubmissionInfo | None = None,
    comm: Comm | None = None,
    time_limit_s: float | None = None,
) -> RunOutcome:
    """Run ``workload`` once to its target, logging to ``log`` (rank 0 only).

    A diverged, over-time or non-converging run returns with status ``aborted``; any
    other exception is logged as ``aborted`` and raised again.
    """
    comm = comm or LocalComm()
    spec = workload.spec_for(opts)
    run = TrainingRun(
        spec, log, seed=opts.seed, info=info, rank=comm.rank, time_limit_s=time_limit_s
    )
    try:
        with run:
            run.hyperparameters(workload.hyperparameters(opts))
            trainer = workload.build(opts, comm)
            comm.barrier()
            run.start(train_samples=trainer.train_samples, eval_samples=trainer.eval_samples)
            trainer.load_data()
            _train_to_target(run, trainer, spec, comm)
    except TrainingAborted:
        pass  # logged as aborted by the run's __exit__
    return RunOutcome(
        opts.seed,
        run.status or "aborted",
        run.time_to_train_s,
        run.reached_at,
        run.reason,
        tuple(run.evals),
    )


def _train_to_target(run: TrainingRun, trainer: Trainer, spec: BenchmarkSpec, comm: Comm) -> None:
    done = 0.0
    for at in spec.eval_points():
        _train_block(run, trainer, spec, comm, done, at)
        run.eval_start(at)
        value = comm.from_rank0(float(trainer.evaluate()))
        if run.eval_stop(value, at):
            return
        done = at
    unit = "epochs" if spec.progress == "epoch" else "samples"
    raise TrainingAborted(
        f"target {spec.target:g} not reached after {done:g} {unit} (best "
        f"{_best(run, spec):.4g}); raise max_units or check the hyperparameters"
    )


def _train_block(
    run: TrainingRun, trainer: Trainer, spec: BenchmarkSpec, comm: Comm, done: float, at: float
) -> None:
    per_epoch = trainer.train_samples
    if spec.progress == "samples":
        with run.block(done, at - done):
            _checked(run, comm, trainer.train(int(at) - int(done)))
        return
    with run.block(done + 1, at - done):
        if _whole(done) and _whole(at):
            for epoch in range(round(done) + 1, round(at) + 1):
                with run.epoch(epoch):
                    _checked(run, comm, trainer.train(per_epoch))
        else:
            samples = round(at * per_epoch) - round(done * per_epoch)
            _checked(run, comm, trainer.train(samples))


def _checked(run: TrainingRun, comm: Comm, loss: float) -> None:
    """Stop every rank together on a NaN/inf loss or past the time limit."""
    mean_loss = comm.mean(float(loss))
    over = run.over_time()
    if comm.world_size > 1:
        over = comm.from_rank0(1.0 if over else 0.0) > 0
    if not math.isfinite(mean_loss):
        where = run.progress_text()
        raise TrainingDiverged(f"training diverged: loss is {mean_loss} after {where}")
    if over:
        run.raise_time_limit()


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def _best(run: TrainingRun, spec: BenchmarkSpec) -> float:
    values = [v for _, v in run.evals if math.isfinite(v)]
    if not values:
        return math.nan
    return max(values) if spec.higher_is_better else min(values)
