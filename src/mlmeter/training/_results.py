"""Score a set of training logs as the official tools do: time to train, olympic mean, RCPs.

Everything is read back from the ``:::MLLOG`` files, not from memory, so the numbers are
the ones a reviewer gets from the same files: time to train is ``run_stop - run_start``
in logged milliseconds (the result summarizer's minutes are that / 60,000); a run counts
as converged when its ``run_stop`` status is ``success``, at the progress (``epoch_num``,
rounded to 3 places, or ``samples_count``) of its last ``eval_accuracy`` before it, as
``rcp_checker`` reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlmeter.stats.training_score import RcpFinding, ScoreResult, check_rcp, olympic_score
from mlmeter.training import _keys
from mlmeter.training._mllog import MllogEvent, read_mllog
from mlmeter.training._spec import BenchmarkSpec


@dataclass(frozen=True)
class LoggedRun:
    """What one ``result_<i>.txt`` says about its run."""

    path: Path
    benchmark: str | None
    seed: int | None
    status: str | None  # run_stop's status; None when the log has no run_stop
    time_to_train_s: float | None
    converged_at: float | None  # epochs or samples; None unless status is success
    global_batch_size: int | None
    reason: str = ""

    @property
    def converged(self) -> bool:
        """Whether the run reached its target."""
        return self.status == _keys.SUCCESS

    @property
    def minutes(self) -> float | None:
        """Time to train in minutes (the summarizer's unit), ``None`` for a failed run."""
        if not self.converged or self.time_to_train_s is None:
            return None
        return self.time_to_train_s / 60.0


def read_logged_run(path: Path, progress: str = "epoch") -> LoggedRun:
    """Read one training log (``progress`` = what eval_accuracy carries)."""
    events = read_mllog(path, strict=False)
    first: dict[str, MllogEvent] = {}
    for e in events:
        first.setdefault(e.key, e)
    stop = first.get(_keys.RUN_STOP)
    start = first.get(_keys.RUN_START)
    status = stop.status if stop else None
    ttt = (stop.time_ms - start.time_ms) / 1000.0 if stop and start else None
    reason = ""
    if stop and isinstance(stop.metadata.get("reason"), str):
        reason = str(stop.metadata["reason"])
    return LoggedRun(
        path=path,
        benchmark=_str(first.get(_keys.SUBMISSION_BENCHMARK)),
        seed=_int(first.get(_keys.SEED)),
        status=status,
        time_to_train_s=ttt,
        converged_at=_converged_at(events, progress) if status == _keys.SUCCESS else None,
        global_batch_size=_int(first.get(_keys.GLOBAL_BATCH_SIZE)),
        reason=reason,
    )


def _converged_at(events: Sequence[MllogEvent], progress: str) -> float | None:
    at: float | None = None
    for e in events:
        if e.key == _keys.RUN_STOP:
            break
        if e.key == _keys.EVAL_ACCURACY:
            if progress == "samples":
                at = None if e.samples_count is None else float(e.samples_count)
            else:
                at = None if e.epoch_num is None else round(float(e.epoch_num), 3)
    return at


def _str(e: MllogEvent | None) -> str | None:
    return None if e is None or not isinstance(e.value, str) else e.value


def _int(e: MllogEvent | None) -> int | None:
    if e is None or isinstance(e.value, bool) or not isinstance(e.value, int | float):
        return None
    return int(e.value)


@dataclass(frozen=True)
class TrainingScore:
    """The olympic score (minutes) of a benchmark's runs and their RCP check."""

    spec: BenchmarkSpec
    runs: tuple[LoggedRun, ...]
    score: ScoreResult
    rcp: RcpFinding | None  # None when no reference data is known or too few runs
    rcp_skipped: str = ""  # why the check did not run, when reference data exists

    @property
    def valid(self) -> bool:
        """The score is valid and the convergence check (if any) accepts the runs."""
        return self.score.valid and (self.rcp is None or self.rcp.accepted)

    @property
    def scaled_minutes(self) -> float | None:
        """The score times the RCP scaling factor (what the summarizer publishes)."""
        if self.score.score is None:
            return None
        factor = self.rcp.scaling_factor if self.rcp is not None else 1.0
        return self.score.score * factor


def score_logs(
    paths: Sequence[Path],
    spec: BenchmarkSpec,
    reference: Mapping[int, Sequence[float]] | None = None,
    *,
    required_runs: int | None = None,
) -> TrainingScore:
    """Score the logs of one benchmark; ``reference`` maps batch size to convergence points."""
    runs = tuple(read_logged_run(p, spec.progress) for p in paths)
    required = required_runs if required_runs is not None else spec.runs
    score = olympic_score(
        [r.minutes for r in runs], required, min(spec.max_failed, spec.drop), drop=spec.drop
    )
    if not reference:
        return TrainingScore(spec, runs, score, None)
    sizes = {r.global_batch_size for r in runs}
    batch = sizes.pop() if len(sizes) == 1 else None
    if batch is None:
        return TrainingScore(spec, runs, score, None, "the runs log different global_batch_size")
    if len(runs) <= 2 * spec.drop:
        return TrainingScore(spec, runs, score, None, f"needs more than {2 * spec.drop} runs")
    rcp = check_rcp(
        [r.converged_at for r in runs],
        batch,
        reference,
        submission_runs=required,
        drop=spec.drop,
        max_failed=spec.max_failed,
    )
    return TrainingScore(spec, runs, score, rcp)
