"""``mlmeter run WORKLOAD``: one benchmark run with a live progress bar and a final table."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

from mlmeter.cli import _power, _workloads
from mlmeter.cli._accuracy import write_accuracy_txt
from mlmeter.cli._progress import ProgressBar
from mlmeter.cli._record import add_record_options
from mlmeter.cli._report import render_report
from mlmeter.errors import SUTError
from mlmeter.loadgen import LogSettings, Progress, TestResult, start_test
from mlmeter.logfmt import read_accuracy_log
from mlmeter.results import record_run_dir
from mlmeter.settings import (
    OFFICIAL_QSL_RNG_SEED,
    OFFICIAL_SAMPLE_INDEX_RNG_SEED,
    OFFICIAL_SCHEDULE_RNG_SEED,
    Scenario,
    TestMode,
    TestSettings,
    apply_conf,
    load_test_settings,
    read_conf,
)
from mlmeter.system import write_system_json
from mlmeter.workloads import AccuracyResult


def add_parser(sub: Any) -> None:
    """Register ``run`` on the top-level sub-parsers."""
    p = sub.add_parser("run", help="run a benchmark", description=__doc__)
    p.add_argument("workload", help="what to run: null, fixed, or an installed workload")
    p.add_argument(
        "--scenario",
        default="Offline",
        help="SingleStream, MultiStream, Server or Offline (default Offline)",
    )
    p.add_argument(
        "--mode",
        default="performance",
        help="performance, accuracy, find-peak or submission (default performance)",
    )
    p.add_argument(
        "--model",
        default=None,
        help="benchmark name for mlperf.conf lookups (e.g. resnet50); with it the "
        "official per-benchmark defaults apply (10-minute runs)",
    )
    p.add_argument("--conf", default=None, help="a user.conf file")
    p.add_argument("--mlperf-conf", default=None, help="replace the shipped mlperf.conf")
    p.add_argument(
        "--audit-config",
        default=None,
        help="a compliance audit.config (TEST01/04/06), applied last as model '*'",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (conf key or TestSettings name)",
    )
    p.add_argument("--output", default=None, help="output folder (default results/<run>)")
    p.add_argument("--trace", action="store_true", help="also write mlperf_log_trace.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _power.add_option(p)
    add_record_options(p)
    _workloads.add_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the workload and settings, run, print the report; exit 0 only if VALID."""
    scenario = Scenario.parse(args.scenario)
    mode = TestMode.parse(args.mode)
    workload = _workloads.build(args.workload, args, scenario)
    extra = power = None
    try:
        settings = _settings(args, workload, scenario, mode)
        outdir = Path(args.output or _default_outdir(args.workload, scenario, mode))
        logs = LogSettings(outdir=outdir, enable_trace=args.trace)
        if args.power:
            power = _power.run(args.power, workload, settings, logs, quiet=args.quiet)
            result = _power.performance_result(power)
        else:
            result = _run_with_progress(workload, settings, logs, quiet=args.quiet)
        if workload.after_run is not None and result.result is not None:
            extra = workload.after_run(result, outdir)  # e.g. llm_metrics.json
    finally:
        workload.close()
    _write_system(outdir, workload, result)
    _write_identity(result, args)
    failed = _network_failures(workload)
    accuracy = None if failed else _score(workload, result)
    print(render_report(result, settings, accuracy, _power.report_line(power) if power else ""))
    if extra is not None:
        print("\n".join(extra.lines))
    if not args.no_record and (note := record_run_dir(outdir, args.db)):
        print(note)
    if result.error is not None:
        raise result.error
    _power.finish(power)
    if failed and (mode is TestMode.ACCURACY_ONLY or result.valid):
        raise SUTError(f"{failed}: the accuracy log is incomplete; see network.json")
    if accuracy is not None:
        return 0 if accuracy.passed else 1
    ok = (result.valid and (extra is None or extra.valid)) or mode is TestMode.ACCURACY_ONLY
    ok = ok and (power is None or power.valid)
    return 0 if ok else 1


def _write_system(outdir: Path, workload: _workloads.Workload, result: TestResult) -> None:
    """``system.json`` (with the network split, if any, also in ``results.json``) and,
    for a network SUT, ``network.json``: requests and failures per endpoint and reason."""
    path = write_system_json(outdir / "system.json", workload.framework)
    if workload.system:
        _merge_json(path, workload.system)
        if result.outputs.results_json is not None and result.outputs.results_json.exists():
            _merge_json(result.outputs.results_json, workload.system, key="system")
    if workload.network_report is not None:
        doc = {"format": "mlmeter-network/1", **workload.network_report()}
        (outdir / "network.json").write_text(json.dumps(doc, indent=2) + "\n")


def _write_identity(result: TestResult, args: argparse.Namespace) -> None:
    """``results.json``'s ``workload``: what ran (the packager and the store read it)."""
    path = result.outputs.results_json
    if path is None or not path.exists():
        return
    bench = _workloads.benchmark_name(args.workload)
    audit = str(args.audit_config or "")
    _merge_json(path, {"name": args.workload, "benchmark": bench, "audit_config": audit},
                key="workload")  # fmt: skip


def _network_failures(workload: _workloads.Workload) -> str:
    """ "" or "N sample(s) failed over the network (HTTP 500: N, ...)"."""
    counts = workload.network_report()["failures"] if workload.network_report else {}
    if not counts:
        return ""
    detail = ", ".join(f"{reason}: {n}" for reason, n in counts.items())
    return f"{sum(counts.values())} sample(s) failed over the network ({detail})"


def _merge_json(path: Path, extra: dict[str, Any], key: str = "") -> None:
    doc = json.loads(path.read_text())
    (doc.setdefault(key, {}) if key else doc).update(extra)
    path.write_text(json.dumps(doc, indent=2, sort_keys=not key) + "\n")


def _score(workload: _workloads.Workload, result: TestResult) -> AccuracyResult | None:
    """Score the accuracy log (accuracy mode) and write ``accuracy.txt`` beside it.

    A run that ended with an error is not scored: its log misses answers."""
    acc_path = result.outputs.accuracy
    if workload.scorer is None or result.result is not None or acc_path is None:
        return None
    if result.error is not None:
        return None
    scored = workload.scorer(read_accuracy_log(acc_path))
    write_accuracy_txt(acc_path.parent / "accuracy.txt", scored, acc_path)
    return scored


def _settings(
    args: argparse.Namespace, workload: _workloads.Workload, scenario: Scenario, mode: TestMode
) -> TestSettings:
    base = TestSettings(
        scenario=scenario,
        mode=mode,
        qsl_rng_seed=OFFICIAL_QSL_RNG_SEED,
        sample_index_rng_seed=OFFICIAL_SAMPLE_INDEX_RNG_SEED,
        schedule_rng_seed=OFFICIAL_SCHEDULE_RNG_SEED,
        **workload.defaults,
    )
    settings = load_test_settings(
        model=args.model or workload.model or args.workload,
        scenario=scenario,
        mode=mode,
        user_conf=args.conf,
        mlperf_conf=args.mlperf_conf,
        use_mlperf_conf=args.model is not None or args.mlperf_conf is not None,
        overrides=args.overrides,
        base=base,
    )
    if args.audit_config:  # the compliance seam, as the official applies ./audit.config
        lines = read_conf(args.audit_config, source="mlperf")
        settings = apply_conf(settings, lines, "*", settings.scenario, source="mlperf")
    return settings


def _default_outdir(workload: str, scenario: Scenario, mode: TestMode) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{workload}-{scenario.value}-{mode.value}-{stamp}"


def _run_with_progress(
    workload: _workloads.Workload, settings: TestSettings, logs: LogSettings, *, quiet: bool
) -> TestResult:
    progress = Progress()
    bar = None if quiet or not sys.stderr.isatty() else ProgressBar(progress, settings)
    if bar is not None:
        bar.start()
    try:
        return start_test(workload.sut, workload.qsl, settings, logs, progress=progress)
    finally:
        if bar is not None:
            bar.stop()
