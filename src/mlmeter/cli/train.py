"""``mlmeter train``: time-to-train runs of a workload in the official submission layout.

Writes ``OUTPUT/results/<system>/<benchmark>/result_<i>.txt`` (one ``:::MLLOG`` log per
run) and ``OUTPUT/systems/<system>.json``, so ``OUTPUT`` is an organisation folder the
official ``package_checker`` and ``result_summarizer`` read. Prints each run's time to
train, the olympic score and the convergence check against the workload's shipped RCPs,
and records everything in ``OUTPUT/mlmeter_train.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import json
import platform
import re
import secrets
from pathlib import Path
from typing import Any

from mlmeter.cli import _train_power, _train_report
from mlmeter.cli._record import add_record_options
from mlmeter.errors import RunError, UsageError
from mlmeter.results import record_training_dir
from mlmeter.system import training_system_description
from mlmeter.training import (
    RunOutcome,
    SubmissionInfo,
    TrainingWorkload,
    TrainOptions,
    get_training_workload,
    run_training,
    training_workload_names,
)
from mlmeter.training._job import Job, write_atomic
from mlmeter.training._launch import LaunchFailed, Topology, launch
from mlmeter.training._reference import load_reference

SUMMARY_FORMAT = "mlmeter-train"
SUMMARY_VERSION = 1


def add_parser(sub: Any) -> None:
    """Register ``train`` on the top-level sub-parsers."""
    p = sub.add_parser("train", help="time-to-train runs with MLPerf logs", description=__doc__)
    p.add_argument("workload", help=f"one of: {', '.join(training_workload_names())}")
    p.add_argument("--config", default="default", help="the workload's configuration")
    p.add_argument("--runs", type=int, default=None, help="runs (default: the benchmark's)")
    p.add_argument("--seed", type=int, default=None, help="seed of run 0; run i uses SEED+i")
    p.add_argument("--output", type=Path, default=None, help="organisation folder to write")
    p.add_argument("--org", default="mlmeter", help="submission_org / submitter")
    p.add_argument("--division", choices=("open", "closed"), default="open")
    p.add_argument("--status", choices=("onprem", "cloud", "preview", "research"), default="onprem")
    p.add_argument("--system", default=None, help="system name (default: the host name)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per run on the clock")
    p.add_argument("--nproc", type=int, default=1, help="processes per node (torch.distributed)")
    p.add_argument("--nnodes", type=int, default=1)
    p.add_argument("--node-rank", type=int, default=0)
    p.add_argument("--master-addr", default="127.0.0.1")
    p.add_argument("--master-port", type=int, default=None)
    p.add_argument("--rcp-out", type=Path, default=None, help="write these runs as RCPs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a workload option (repeatable)")  # fmt: skip
    _train_power.add_option(p)
    add_record_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark ``--runs`` times, then score; exit 0 when the score is valid."""
    workload = get_training_workload(args.workload)
    _check_args(args, workload)
    with _train_power.open_power(args.power, args.node_rank) as power:
        return _run(args, workload, power)


def _run(
    args: argparse.Namespace, workload: TrainingWorkload, power: _train_power.TrainPower | None
) -> int:
    base = TrainOptions(
        device=args.device, threads=args.threads, config=args.config, extra=_extra(args.set)
    )
    spec = workload.spec_for(base)
    runs = args.runs or spec.runs
    first_seed = args.seed if args.seed is not None else secrets.randbelow(2**31 - 1000)
    system = args.system or _system_name()
    out = Path(args.output or Path("results") / f"train-{args.workload}-{_stamp()}")
    bench_dir = out / "results" / system / spec.benchmark
    _check_empty(bench_dir)
    info = SubmissionInfo(args.org, args.division, system, args.status)
    topo = Topology(args.nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port)
    outcomes: list[RunOutcome] = []
    failure: LaunchFailed | None = None
    for i in range(runs):
        opts = TrainOptions(**{**base.__dict__, "seed": first_seed + i})
        log = bench_dir / f"result_{i}.txt"
        work = out / ".mlmeter" / f"run_{i}"
        one = functools.partial(_run_one, args, workload, opts, log, info, topo, work)
        try:
            outcome = power.measure(i, log, one) if power else one()
        except LaunchFailed as exc:  # a lost rank: stop here, keep and score what ran
            outcome, failure = exc.outcome, exc
        outcomes.append(outcome)
        _train_report.print_run(i, runs, outcome, spec)
        if power:
            power.print_run(i)
        if failure is not None:
            break
    if topo.node_rank != 0:
        if failure is not None:
            raise failure
        print(f"node {topo.node_rank}: {runs} runs done; node 0 writes and scores the logs")
        return 0
    _write_system(out, system, args, topo)
    # A run whose rank 0 died before logging has no log: it is reported, not scored.
    paths = [p for i in range(len(outcomes)) if (p := bench_dir / f"result_{i}.txt").exists()]
    reference_path = workload.reference_file(base)
    reference = load_reference(reference_path, spec.benchmark) if reference_path.exists() else None
    score = _train_report.score(paths, spec, reference, runs)
    _train_report.print_score(score, args.division, reference_path if reference else None)
    if power:
        power.score(score)
    if args.rcp_out:
        _train_report.write_rcps(
            args.rcp_out, score, workload, base, _command(args, first_seed, runs)
        )
    _write_summary(out, args, workload, base, (first_seed, runs), outcomes, score)
    if power:
        power.record(out / "mlmeter_train.json")
    if not args.no_record and (note := record_training_dir(out, args.db)):
        print(note)
    if failure is not None:
        raise RunError(f"{failure}; {runs - len(outcomes)} runs not started, logs kept in {out}")
    return 0 if _train_report.acceptable(score) else 3


def _run_one(
    args: argparse.Namespace,
    workload: TrainingWorkload,
    opts: TrainOptions,
    log: Path,
    info: SubmissionInfo,
    topo: Topology,
    work_dir: Path,
) -> RunOutcome:
    if topo.world_size == 1:
        return run_training(workload, opts, log, info=info, time_limit_s=args.time_limit)
    job = Job(args.workload, opts, log, info, args.time_limit)
    # The ranks check the limit between blocks; the launcher stops a run stuck inside one.
    hard = None if args.time_limit is None else args.time_limit * 1.25 + 60.0
    init = 1800.0 if args.division == "closed" else 4 * 3600.0
    return launch(job, topo, work_dir, hard_timeout_s=hard, init_timeout_s=init)


def _check_args(args: argparse.Namespace, workload: TrainingWorkload) -> None:
    if args.config != "default" and args.config not in workload.configs:
        known = ", ".join(workload.configs)
        raise UsageError(f"--config {args.config!r} is not a {workload.name} config: use {known}")
    for flag, value in (("--runs", args.runs), ("--threads", args.threads)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be >= 1, got {value}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise UsageError(f"--time-limit must be > 0 seconds, got {args.time_limit}")
    if args.seed is not None and args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    try:
        Topology(args.nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    _check_device(args.device)


def _check_device(device: str) -> None:
    if not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise UsageError(f"--device {device!r}: use cpu, cuda or cuda:N")
    if device.startswith("cuda"):
        try:
            import torch
        except ImportError as exc:
            raise UsageError("--device cuda needs torch: install mlmeter[torch]") from exc
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: no CUDA device is visible; use --device cpu")


def _extra(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: use --set KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _check_empty(bench_dir: Path) -> None:
    existing = sorted(bench_dir.glob("result_*.txt"))
    if existing:
        raise UsageError(
            f"{bench_dir} already holds {existing[0].name}: choose another --output "
            "(logs are never overwritten)"
        )


def _system_name() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", platform.node() or "local")


def _stamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _command(args: argparse.Namespace, first_seed: int, runs: int) -> str:
    parts = ["mlmeter", "train", args.workload, "--config", args.config]
    parts += ["--runs", str(runs), "--seed", str(first_seed), "--threads", str(args.threads)]
    return " ".join(parts)


def _write_system(out: Path, system: str, args: argparse.Namespace, topo: Topology) -> None:
    desc = training_system_description(
        submitter=args.org,
        division=args.division,
        status=args.status,
        system_name=system,
        nodes=topo.nnodes,
    )
    write_atomic(out / "systems" / f"{system}.json", json.dumps(desc, indent=2) + "\n")


def _write_summary(
    out: Path,
    args: argparse.Namespace,
    workload: TrainingWorkload,
    base: TrainOptions,
    seeds: tuple[int, int],
    outcomes: list[RunOutcome],
    score: _train_report.TrainingScore,
) -> None:
    summary = {
        "format": SUMMARY_FORMAT,
        "version": SUMMARY_VERSION,
        "workload": workload.name,
        "config": workload.config_name(base),
        "command": _command(args, *seeds),
        "settings": {
            "device": args.device,
            "threads": args.threads,
            "nproc": args.nproc,
            "nnodes": args.nnodes,
            "time_limit_s": args.time_limit,
            "division": args.division,
            "extra": base.extra,
        },
        "hyperparameters": workload.hyperparameters(base),
        **_train_report.score_json(score, outcomes),
    }
    write_atomic(out / "mlmeter_train.json", json.dumps(summary, indent=2, default=str) + "\n")
