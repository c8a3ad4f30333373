"""Checks of training results: the round's run count per benchmark, each log's
``run_stop`` status, seeds present and distinct, and an olympic score that can be computed
(``mlmeter.training``'s readers and ``mlmeter.stats``' scoring, as the official tools)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from mlmeter.stats.training_score import olympic_score
from mlmeter.submission._checks_common import Context, error, warning
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import TrainingEntry
from mlmeter.training._results import LoggedRun, read_logged_run

_DROP = {"unet3d": 4}  # runs dropped each side (and failures tolerated); 1 for others


def check_training(ctx: Context) -> Iterator[Finding]:
    """Run count, statuses, seeds and score of every training benchmark folder."""
    for entry in ctx.tree.training:
        where = ctx.rel(entry.path)
        rule = ctx.round.training.get(entry.benchmark)
        if rule is None:
            known = ", ".join(sorted(ctx.round.training))
            msg = (f"{entry.benchmark!r} is not a training benchmark of round "
                   f"{ctx.round.name} ({known})")  # fmt: skip
            yield error("training.unknown_benchmark", where, msg)
            continue
        runs = [read_logged_run(p) for p in entry.logs]
        if len(runs) != rule.runs:
            msg = (f"{entry.benchmark}: {len(runs)} result_<i>.txt, round {ctx.round.name} "
                   f"requires exactly {rule.runs}")  # fmt: skip
            yield error("training.run_count", where, msg)
        yield from _statuses(ctx, entry, runs)
        yield from _seeds(ctx, entry, runs)
        if len(runs) == rule.runs:
            yield from _score(entry, runs, rule.runs, where)


def _statuses(ctx: Context, entry: TrainingEntry, runs: list[LoggedRun]) -> Iterator[Finding]:
    failed = 0
    for run in runs:
        where = ctx.rel(run.path)
        if run.benchmark is not None and run.benchmark != entry.benchmark:
            msg = (f"the log says submission_benchmark {run.benchmark!r}, the folder "
                   f"{entry.benchmark!r}")  # fmt: skip
            yield error("training.benchmark_mismatch", where, msg)
        if run.status is None:
            yield error(
                "training.no_run_stop", where, "the log has no run_stop: the run did not end"
            )
            failed += 1
        elif not run.converged:
            why = f" ({run.reason})" if run.reason else ""
            msg = f"run_stop status is {run.status!r}{why}: the run did not converge"
            yield warning("training.run_failed", where, msg)
            failed += 1
    allowed = _DROP.get(entry.benchmark, 1)
    if failed > allowed:
        msg = f"{failed} of {len(runs)} runs failed; olympic scoring tolerates {allowed}"
        yield error("training.too_many_failed", ctx.rel(entry.path), msg)


def _seeds(ctx: Context, entry: TrainingEntry, runs: list[LoggedRun]) -> Iterator[Finding]:
    make = error if entry.division != "open" else warning  # open has no seed rule
    for run in runs:
        if run.seed is None:
            yield make("training.no_seed", ctx.rel(run.path), "the log has no integer seed")
    counts = Counter(r.seed for r in runs if r.seed is not None)
    for seed, n in sorted(counts.items()):
        if n > 1:
            msg = f"{n} runs log the same seed {seed}: each run needs its own"
            yield make("training.duplicate_seed", ctx.rel(entry.path), msg)


def _score(
    entry: TrainingEntry, runs: list[LoggedRun], required: int, where: str
) -> Iterator[Finding]:
    drop = _DROP.get(entry.benchmark, 1)
    score = olympic_score([r.minutes for r in runs], required, drop, drop=drop)
    if not score.valid:
        yield error(
            "training.no_score", where, f"{entry.benchmark}: no olympic score: {score.message}"
        )
