"""What ``mlmeter train`` prints and records: per-run lines, the score, the RCP verdict."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.system import describe_system
from mlmeter.training import BenchmarkSpec, RunOutcome, TrainingWorkload, TrainOptions
from mlmeter.training._reference import reference_record, write_reference
from mlmeter.training._results import TrainingScore, score_logs

__all__ = [
    "TrainingScore",
    "acceptable",
    "print_run",
    "print_score",
    "score",
    "score_json",
    "write_rcps",
]


def _unit(spec: BenchmarkSpec) -> str:
    return "epoch" if spec.progress == "epoch" else "samples"


def print_run(i: int, runs: int, outcome: RunOutcome, spec: BenchmarkSpec) -> None:
    """One line per finished run."""
    ttt = "-" if outcome.time_to_train_s is None else f"{outcome.time_to_train_s:.2f} s"
    head = f"run {i + 1}/{runs} seed {outcome.seed}:"
    if outcome.converged:
        print(f"{head} success, time to train {ttt} ({_unit(spec)} {outcome.reached_at:g})")
    else:
        print(f"{head} ABORTED after {ttt}: {outcome.reason or 'target not reached'}")


def score(
    paths: Sequence[Path],
    spec: BenchmarkSpec,
    reference: Mapping[int, Sequence[float]] | None,
    runs: int,
) -> TrainingScore:
    """Score the logs; with fewer runs than the benchmark requires, score what there is."""
    required = runs if runs != spec.runs and runs > 2 * spec.drop else spec.runs
    return score_logs(paths, spec, reference, required_runs=required)


def acceptable(result: TrainingScore) -> bool:
    """A valid score (or, for fewer runs than a submission needs, every run converged),
    and a convergence check that does not fail."""
    complete = result.score.valid or all(r.converged for r in result.runs)
    return complete and (result.rcp is None or result.rcp.accepted)


def print_score(result: TrainingScore, division: str, reference_path: Path | None) -> None:
    """The olympic score, and the convergence check with its numbers."""
    s = result.score
    if s.score is not None:
        secs = ", ".join(f"{m * 60:.2f}" for m in s.used)
        print(
            f"olympic score: {s.score:.6g} min = {s.score * 60:.3f} s "
            f"(mean of {len(s.used)} runs: {secs} s; fastest and slowest dropped)"
        )
    else:
        print(f"olympic score: INVALID: {s.message}")
    if len(result.runs) != result.spec.runs:
        print(f"note: {result.spec.benchmark} needs {result.spec.runs} runs for a submission")
    if result.rcp is None:
        why = result.rcp_skipped or "no reference convergence points for this configuration"
        print(f"convergence: not checked: {why}")
        return
    print(f"convergence (RCP, {reference_path}): {result.rcp.outcome.value}: {result.rcp.message}")
    if division == "closed" and result.rcp.accepted and result.scaled_minutes is not None:
        print(f"score after RCP scaling: {result.scaled_minutes:.6g} min")


def score_json(result: TrainingScore, outcomes: Sequence[RunOutcome]) -> dict[str, Any]:
    """The score and runs for ``mlmeter_train.json``."""
    rcp = result.rcp
    return {
        "benchmark": result.spec.benchmark,
        "ruleset": result.spec.ruleset,
        "target": result.spec.target,
        "progress": result.spec.progress,
        "runs": [
            {
                "log": str(r.path),
                "seed": r.seed,
                "status": r.status,
                "time_to_train_s": r.time_to_train_s,
                "converged_at": r.converged_at,
                "reason": r.reason or o.reason,
                "evals": [list(e) for e in o.evals],
            }
            for r, o in zip(result.runs, outcomes, strict=True)
        ],
        "score": {
            "valid": result.score.valid,
            "olympic_minutes": result.score.score,
            "used_minutes": list(result.score.used),
            "failed_runs": result.score.failed,
            "message": result.score.message,
        },
        "rcp": None
        if rcp is None
        else {
            "outcome": rcp.outcome.value,
            "match": rcp.match.value,
            "message": rcp.message,
            "submission_mean": rcp.submission_mean,
            "reference_mean": rcp.reference_mean,
            "min_acceptable": rcp.bound,
            "scaling_factor": rcp.scaling_factor,
        },
        "system": describe_system(),
    }


def write_rcps(
    path: Path,
    result: TrainingScore,
    workload: TrainingWorkload,
    opts: TrainOptions,
    command: str,
) -> None:
    """Write these runs' convergence points as a reference record (all runs must converge)."""
    points = [r.converged_at for r in result.runs]
    if any(p is None for p in points):
        raise UsageError("--rcp-out needs every run to converge; rerun or raise the limits")
    sizes = {r.global_batch_size for r in result.runs}
    if len(sizes) != 1 or None in sizes:
        raise UsageError("--rcp-out needs one global_batch_size logged by every run")
    hyper: dict[str, Any] = dict(workload.hyperparameters(opts))
    hyper.update(
        generated_by=command,
        seeds=[r.seed for r in result.runs],
        config=workload.config_name(opts),
    )
    record = reference_record(
        result.spec.benchmark,
        int(next(iter(sizes)) or 0),
        [float(p) for p in points if p is not None],
        hyperparams=hyper,
        platform=str(describe_system().get("host_processor_model_name", "")),
        when=_dt.date.today().isoformat(),
    )
    write_reference(path, [record])
    print(f"reference convergence points written to {path}")
