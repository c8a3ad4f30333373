"""One configuration, one process: ``python benchmarks/_worker.py SPEC.json RESULT.json``.

The spec names the implementation (``official`` or ``mlmeter``), the SUT (see
``_suts.SUTS``), the scenario and the TestSettings attributes to set. The worker runs
exactly one ``StartTestWithLogSettings`` with the trace off and the logs in the spec's
``outdir``, then writes the parsed summary, the wall time of the call, the SUT's issue
statistics and the process's peak RSS to RESULT.json. A fresh process per run keeps the
official LoadGen's global state and the peak RSS of one run apart from the next.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from _common import parse_summary  # benchmarks/ is sys.path[0] when run as a script
from _suts import SUTS, BuiltSUT

MODULES = {"official": "mlperf_loadgen", "mlmeter": "mlmeter.compat.mlperf_loadgen"}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _settings(lg: ModuleType, spec: dict[str, Any]) -> Any:
    settings = lg.TestSettings()
    settings.scenario = getattr(lg.TestScenario, spec["scenario"])
    settings.mode = lg.TestMode.PerformanceOnly
    for key, value in spec["settings"].items():
        setattr(settings, key, value)
    return settings


def _log_settings(lg: ModuleType, outdir: str) -> Any:
    log = lg.LogSettings()
    log.log_output.outdir = outdir
    log.enable_trace = False
    return log


def _noop(_indices: Any) -> None:
    return None


def _invalid_reasons(lg: ModuleType) -> list[str]:
    """mlmeter's own list of failed rules (the official reports them only in its logs)."""
    last = getattr(lg, "last_result", None)
    result = last().result if last is not None and last() is not None else None
    return list(result.invalid_reasons) if result is not None else []


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the spec's one test and return the measurements."""
    lg = importlib.import_module(MODULES[spec["impl"]])
    outdir = spec["outdir"]
    Path(outdir).mkdir(parents=True, exist_ok=True)
    rss_before = _rss_bytes()
    qsl = lg.ConstructQSL(spec.get("qsl_total", 1024), spec.get("qsl_perf", 1024), _noop, _noop)
    sut: BuiltSUT = SUTS[spec["sut"]](lg)
    settings, log = _settings(lg, spec), _log_settings(lg, outdir)
    t0 = time.perf_counter()
    lg.StartTestWithLogSettings(sut.handle, qsl, settings, log)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    sut.stop()
    sut.destroy(sut.handle)
    lg.DestroyQSL(qsl)
    summary = (Path(outdir) / "mlperf_log_summary.txt").read_text()
    return {
        "summary": parse_summary(summary),
        "summary_text": summary,
        "invalid_reasons": _invalid_reasons(lg),
        "wall_s": wall,
        "peak_rss_bytes": peak,
        "rss_before_bytes": rss_before,
        "issue_calls": sut.stats.calls,
        "issue_rate": sut.stats.rate(),
        "module_file": lg.__file__,
    }


def main(argv: list[str]) -> int:
    """Entry point: read the spec, run, write the result."""
    spec = json.loads(Path(argv[0]).read_text())
    result = run(spec)
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
