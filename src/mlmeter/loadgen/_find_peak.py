"""Find-peak mode (Server only): the highest target QPS that meets the latency bound.

As officially: check the requested QPS passes; widen by ``×(1 + step)`` until a rung
fails; then bisect until ``floor(lo·10^d) + 1 >= floor(hi·10^d)``. Only the latency
percentile decides (not min duration or early stopping). Each rung writes its logs
under ``outdir/find_peak/``; the best passing rung's logs are copied to ``outdir``.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlmeter.errors import SettingsError
from mlmeter.events import EventBus
from mlmeter.loadgen._interfaces import QSL, SUT
from mlmeter.loadgen._issuer import Progress
from mlmeter.loadgen._log_settings import LogSettings
from mlmeter.settings import Scenario, TestMode, TestSettings

if TYPE_CHECKING:
    from mlmeter.loadgen._session import TestResult

_MAX_RUNGS = 64


def find_peak(
    sut: SUT,
    qsl: QSL,
    settings: TestSettings,
    log_settings: LogSettings,
    *,
    bus: EventBus | None = None,
    progress: Progress | None = None,
) -> TestResult:
    """Search the highest passing ``server_target_qps``; return that rung's result."""
    if settings.scenario is not Scenario.SERVER:
        raise SettingsError("find-peak mode is only supported in Server: use --scenario Server")
    base = settings.replace(mode=TestMode.PERFORMANCE_ONLY)
    rungs = _Rungs(sut, qsl, base, log_settings, bus, progress)
    lo = base.server_target_qps
    best = rungs.run(lo)
    if not _passes(best):
        return best
    step = 1.0 + base.server_find_peak_qps_boundary_step_size
    hi = lo * step
    while (res := rungs.run(hi)) is not None and _passes(res):
        best, lo, hi = res, hi, hi * step
    d = base.server_find_peak_qps_decimals_of_precision
    while math.floor(lo * 10**d) + 1 < math.floor(hi * 10**d) and rungs.left():
        mid = (lo + hi) / 2
        res = rungs.run(mid)
        if _passes(res):
            best, lo = res, mid
        else:
            hi = mid
    rungs.promote(best)
    return best


def _passes(res: TestResult) -> bool:
    r = res.result
    if r is None or res.error is not None:
        return False
    return all(c.met for c in r.checks if c.code == "perf_constraints")


class _Rungs:
    def __init__(
        self,
        sut: SUT,
        qsl: QSL,
        base: TestSettings,
        logs: LogSettings,
        bus: EventBus | None,
        progress: Progress | None,
    ) -> None:
        self.sut, self.qsl, self.base, self.logs = sut, qsl, base, logs
        self.bus, self.progress = bus, progress
        self.count = 0
        self.dirs: dict[int, Path] = {}

    def left(self) -> bool:
        return self.count < _MAX_RUNGS

    def run(self, qps: float) -> TestResult:
        from mlmeter.loadgen._session import start_test

        self.count += 1
        outdir = Path(self.logs.outdir) / "find_peak" / f"rung_{self.count:02d}_qps_{qps:.4g}"
        outdir.mkdir(parents=True, exist_ok=True)
        res = start_test(
            self.sut,
            self.qsl,
            self.base.replace(server_target_qps=qps),
            replace(self.logs, outdir=outdir),
            bus=self.bus,
            progress=self.progress,
        )
        self.dirs[id(res)] = outdir
        return res

    def promote(self, best: TestResult) -> None:
        """Copy the best rung's logs to the main output folder."""
        src = self.dirs.get(id(best))
        if src is None:
            return
        for f in src.iterdir():
            if f.is_file():
                shutil.copy2(f, Path(self.logs.outdir) / f.name)
