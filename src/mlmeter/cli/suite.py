"""``mlmeter suite``: a short run of every real workload (accuracy, then performance), one report.

It drives ``mlmeter run`` once per (workload, scenario, mode) with the workloads' CI-sized
defaults, then writes ``report.html`` over all the run folders. This is the README's
main job: real models on real (bundled) data, on the CPU, in a few minutes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path
from typing import Any

from mlmeter.errors import MlmeterError
from mlmeter.workloads import available

_SCENARIOS = ("Offline", "SingleStream")


def add_parser(sub: Any) -> None:
    """Register ``suite`` on the top-level sub-parsers."""
    p = sub.add_parser(
        "suite", help="run every workload briefly and write one report", description=__doc__
    )
    p.add_argument("--workloads", default="", help="comma-separated subset (default: all)")
    p.add_argument(
        "--scenarios",
        default=",".join(_SCENARIOS),
        help="performance scenarios to run (default Offline,SingleStream)",
    )
    p.add_argument("--no-accuracy", action="store_true", help="skip the accuracy runs")
    p.add_argument("--output", type=Path, default=None, help="folder (default results/suite-*)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the suite; exit 0 only if every run passed (VALID, accuracy target met)."""
    from mlmeter.cli.main import main

    chosen = [w for w in args.workloads.split(",") if w] or _standalone()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.output or Path("results") / f"suite-{stamp}")
    rows: list[tuple[str, str, str, int]] = []
    for workload in chosen:
        for scenario, mode in _plan(args):
            run_dir = out / workload / f"{scenario}-{mode}"
            argv = [
                "run",
                workload,
                "--scenario",
                scenario,
                "--mode",
                mode,
                "--output",
                str(run_dir),
                "--quiet",
                "--trace",
            ]
            print(f"== {workload} {scenario} {mode}", flush=True)
            code = main(argv)
            rows.append((workload, scenario, mode, code))
    _print_table(rows)
    report = _report(out, rows)
    print(f"report: {report}" if report else "report: not written (see above)")
    return 0 if all(code == 0 for *_, code in rows) else 1


def _standalone() -> list[str]:
    """Every workload that runs on this machine alone (not those needing --endpoint)."""
    return [name for name, cls in available().items() if not cls.needs_endpoint]


def _plan(args: argparse.Namespace) -> list[tuple[str, str]]:
    plan = [] if args.no_accuracy else [("Offline", "accuracy")]
    return plan + [(s, "performance") for s in args.scenarios.split(",") if s]


def _print_table(rows: list[tuple[str, str, str, int]]) -> None:
    print(f"{'workload':<22} {'scenario':<13} {'mode':<12} result")
    for workload, scenario, mode, code in rows:
        verdict = "PASS" if code == 0 else ("FAIL" if code == 1 else f"ERROR ({code})")
        print(f"{workload:<22} {scenario:<13} {mode:<12} {verdict}")


def _report(out: Path, rows: list[tuple[str, str, str, int]]) -> Path | None:
    from mlmeter.cli.main import main

    dirs = [str(out / w / f"{s}-{m}") for w, s, m, _ in rows if (out / w / f"{s}-{m}").is_dir()]
    target = out / "report.html"
    try:
        code = main(["report", *dirs, "-o", str(target)])
    except (MlmeterError, SystemExit):
        return None
    return target if code == 0 else None
