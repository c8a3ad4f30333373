"""A drop-in replacement for the official ``mlperf_loadgen`` Python module.

Change only the import::

    import mlmeter.compat.mlperf_loadgen as lg   # was: import mlperf_loadgen as lg

and a harness written for the official LoadGen runs on mlmeter: the same
``TestSettings`` attributes, enums, ``Construct*``/``Destroy*`` handles,
``StartTest``/``StartTestWithLogSettings`` and ``QuerySamplesComplete``/
``FirstTokenComplete``. Differences, all deliberate: a bad conf file raises a
one-line ``ConfigError`` naming file and line instead of being ignored; the trace
is off unless ``enable_trace`` is set; ``QuerySampleResponse`` pickles.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from mlmeter import loadgen as _lg
from mlmeter.loadgen import IntArray, QuerySample, QuerySampleResponse, TestResult
from mlmeter.settings import SHIPPED_MLPERF_CONF, apply_conf, read_conf
from mlmeter.settings import Scenario as _Scenario
from mlmeter.settings import TestMode as _Mode
from mlmeter.settings import TestSettings as _Settings

__all__ = [
    "ConstructFastSUT",
    "ConstructQDL",
    "ConstructQSL",
    "ConstructSUT",
    "DestroyFastSUT",
    "DestroyQDL",
    "DestroyQSL",
    "DestroySUT",
    "FirstTokenComplete",
    "LogOutputSettings",
    "LogSettings",
    "LoggingMode",
    "QuerySample",
    "QuerySampleResponse",
    "QuerySamplesComplete",
    "StartTest",
    "StartTestWithLogSettings",
    "TestMode",
    "TestScenario",
    "TestSettings",
    "VectorQuerySample",
    "VectorQuerySampleResponse",
    "last_result",
]


class TestScenario(IntEnum):
    """The official scenario enum (same values)."""

    __test__ = False

    SingleStream = 0
    MultiStream = 1
    Server = 2
    Offline = 3


class TestMode(IntEnum):
    """The official test-mode enum."""

    __test__ = False

    SubmissionRun = 0
    AccuracyOnly = 1
    PerformanceOnly = 2
    FindPeakPerformance = 3


class LoggingMode(IntEnum):
    """Accepted for compatibility; mlmeter always formats logs after the run."""

    AsyncPoll = 0
    EndOfTestOnly = 1
    Synchronous = 2


_SCENARIOS = {
    TestScenario.SingleStream: _Scenario.SINGLE_STREAM,
    TestScenario.MultiStream: _Scenario.MULTI_STREAM,
    TestScenario.Server: _Scenario.SERVER,
    TestScenario.Offline: _Scenario.OFFLINE,
}
_MODES = {
    TestMode.SubmissionRun: _Mode.SUBMISSION_RUN,
    TestMode.AccuracyOnly: _Mode.ACCURACY_ONLY,
    TestMode.PerformanceOnly: _Mode.PERFORMANCE_ONLY,
    TestMode.FindPeakPerformance: _Mode.FIND_PEAK_PERFORMANCE,
}
# official Python attribute name -> mlmeter TestSettings field
_RENAMED = {"ttft_latency": "server_ttft_latency", "tpot_latency": "server_tpot_latency"}
_FLOAT_IN_OFFICIAL = ("single_stream_expected_latency_ns", "multi_stream_expected_latency_ns")


class TestSettings:
    """Mutable settings with the official attribute names and defaults."""

    __test__ = False

    def __init__(self) -> None:
        defaults = _Settings().as_dict()
        object.__setattr__(self, "_values", defaults)
        self.scenario = TestScenario.SingleStream
        self.mode = TestMode.PerformanceOnly

    def __getattr__(self, name: str) -> Any:
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        key = _RENAMED.get(name, name)
        if key in values:
            return values[key]
        raise AttributeError(f"TestSettings has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        inverse = {v: k for k, v in _RENAMED.items()}
        names = {inverse.get(k, k) for k in values} - {"extra", "response_timeout_ms"}
        return sorted({*names, "scenario", "mode", "FromConfig", *super().__dir__()})

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("scenario", "mode"):
            object.__setattr__(self, name, value)
            return
        key = _RENAMED.get(name, name)
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        if key not in values:
            raise AttributeError(f"TestSettings has no attribute {name!r}")
        values[key] = value

    def FromConfig(self, path: str, model: str, scenario: str, conf_type: int = 1) -> int:
        """Apply a conf file (``conf_type=1``: mlperf.conf first, then this user.conf).

        Unlike the official, a bad line raises ``ConfigError`` (file:line) at once.
        """
        current = self.to_mlmeter()
        updated = load_conf_into(
            current,
            path,
            model=model,
            scenario=_Scenario.parse(scenario),
            is_user_conf=conf_type == 1,
        )
        for key, value in updated.as_dict().items():
            if key not in ("scenario", "mode"):
                object.__getattribute__(self, "_values")[key] = value
        mode_name = updated.mode.value
        self.mode = next(m for m, ours in _MODES.items() if ours.value == mode_name)
        return 0

    def to_mlmeter(self) -> _Settings:
        """The equivalent validated ``mlmeter.settings.TestSettings``."""
        values = dict(object.__getattribute__(self, "_values"))
        for name in _FLOAT_IN_OFFICIAL:  # the official binding stores these as doubles
            values[name] = round(values[name])
        values["scenario"] = _SCENARIOS[TestScenario(self.scenario)]
        values["mode"] = _MODES[TestMode(self.mode)]
        return _Settings(**values)


def load_conf_into(
    settings: _Settings, path: str, *, model: str, scenario: _Scenario, is_user_conf: bool
) -> _Settings:
    """Apply a conf file as the official ``FromConfig`` does.

    ``is_user_conf`` (conf_type=1): the shipped mlperf.conf is applied first, then the
    file as user.conf; otherwise the file is read as an mlperf.conf/audit.config.
    """
    if is_user_conf:
        shipped = read_conf(SHIPPED_MLPERF_CONF, source="mlperf")
        settings = apply_conf(settings, shipped, model, scenario, source="mlperf")
        if not path:
            return settings
    lines = read_conf(path, source="user" if is_user_conf else "mlperf")
    return apply_conf(settings, lines, model, scenario, source="user" if is_user_conf else "mlperf")


class LogOutputSettings:
    """Where logs go (official fields)."""

    def __init__(self) -> None:
        self.outdir = "."
        self.prefix = "mlperf_log_"
        self.suffix = ""
        self.prefix_with_datetime = False
        self.copy_detail_to_stdout = False
        self.copy_summary_to_stdout = False


class LogSettings:
    """Official LogSettings; ``enable_trace`` defaults to off in mlmeter."""

    def __init__(self) -> None:
        self.log_output = LogOutputSettings()
        self.log_mode = LoggingMode.AsyncPoll
        self.log_mode_async_poll_interval_ms = 1000
        self.enable_trace = False

    def to_mlmeter(self) -> _lg.LogSettings:
        """The equivalent ``mlmeter.loadgen.LogSettings``."""
        o = self.log_output
        return _lg.LogSettings(
            outdir=Path(o.outdir),
            prefix=o.prefix,
            suffix=o.suffix,
            prefix_with_datetime=o.prefix_with_datetime,
            copy_detail_to_stdout=o.copy_detail_to_stdout,
            copy_summary_to_stdout=o.copy_summary_to_stdout,
            enable_trace=bool(self.enable_trace),
        )


class _PySUT:
    def __init__(self, issue: Callable[..., None], flush: Callable[[], None], name: str) -> None:
        self._issue, self._flush, self._name = issue, flush, name

    @property
    def name(self) -> str:
        return self._name

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self._issue(samples)

    def flush_queries(self) -> None:
        self._flush()


class _PyFastSUT(_PySUT):
    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self._issue([s.id for s in samples], [s.index for s in samples])

    def issue_arrays(self, ids: IntArray, indices: IntArray) -> None:
        self._issue(ids.tolist(), indices.tolist())


class _PyQDL(_PySUT):
    def __init__(
        self, issue: Callable[..., None], flush: Callable[[], None], name: Callable[[], str]
    ) -> None:
        super().__init__(issue, flush, "")
        self._name_cb = name

    @property
    def name(self) -> str:
        return self._name_cb()


class _PyQSL:
    name = "PyQSL"

    def __init__(
        self, total: int, perf: int, load: Callable[[Any], None], unload: Callable[[Any], None]
    ) -> None:
        self.total_sample_count, self.performance_sample_count = total, perf
        self._load, self._unload = load, unload

    def load_samples(self, indices: Sequence[int]) -> None:
        self._load(list(indices))

    def unload_samples(self, indices: Sequence[int]) -> None:
        self._unload(list(indices))


VectorQuerySample = list
VectorQuerySampleResponse = list

_handles: dict[int, Any] = {}
_last: list[TestResult] = []


def _register(obj: Any) -> int:
    handle = id(obj)
    _handles[handle] = obj
    return handle


def ConstructSUT(issue_cb: Callable[[Any], None], flush_cb: Callable[[], None]) -> int:
    """A SUT whose ``issue_cb`` receives a list of ``QuerySample`` (name "PySUT")."""
    return _register(_PySUT(issue_cb, flush_cb, "PySUT"))


def ConstructFastSUT(
    fast_issue_cb: Callable[[Any, Any], None], flush_cb: Callable[[], None]
) -> int:
    """A SUT whose callback receives ``(ids, indices)`` lists (name "PyFastSUT")."""
    return _register(_PyFastSUT(fast_issue_cb, flush_cb, "PyFastSUT"))


def ConstructQDL(
    issue_cb: Callable[[Any], None], flush_cb: Callable[[], None], name_cb: Callable[[], str]
) -> int:
    """A query dispatch library (a SUT proxy whose name is asked at test time)."""
    return _register(_PyQDL(issue_cb, flush_cb, name_cb))


def ConstructQSL(
    total_sample_count: int,
    performance_sample_count: int,
    load_samples_to_ram: Callable[[Any], None],
    unload_samples_from_ram: Callable[[Any], None],
) -> int:
    """A QSL from two callbacks (name "PyQSL")."""
    return _register(
        _PyQSL(
            total_sample_count,
            performance_sample_count,
            load_samples_to_ram,
            unload_samples_from_ram,
        )
    )


def _destroy(handle: int) -> None:
    _handles.pop(handle, None)


DestroySUT = DestroyFastSUT = DestroyQDL = DestroyQSL = _destroy


def StartTest(
    sut: int, qsl: int, settings: TestSettings, audit_config_filename: str = "audit.config"
) -> None:
    """Run a test with default log settings (logs in the working directory)."""
    StartTestWithLogSettings(sut, qsl, settings, LogSettings(), audit_config_filename)


def StartTestWithLogSettings(
    sut: int,
    qsl: int,
    settings: TestSettings,
    log_settings: LogSettings,
    audit_config_filename: str = "audit.config",
) -> None:
    """Run a test; an ``audit.config`` in the working directory applies as model ``*``."""
    ours = settings.to_mlmeter()
    if audit_config_filename and os.path.exists(audit_config_filename):
        ours = load_conf_into(
            ours, audit_config_filename, model="*", scenario=ours.scenario, is_user_conf=False
        )
    result = _lg.start_test(_handles[sut], _handles[qsl], ours, log_settings.to_mlmeter())
    _last[:] = [result]
    if result.error is not None and result.error.exit_code == 130:
        raise KeyboardInterrupt


def QuerySamplesComplete(
    responses: Sequence[QuerySampleResponse],
    response_cb: Callable[[QuerySampleResponse], None] | None = None,
) -> None:
    """Report finished samples; thread-safe."""
    if response_cb is not None:
        for r in responses:
            response_cb(r)
    _lg.complete(responses)


def FirstTokenComplete(
    responses: Sequence[QuerySampleResponse],
    response_cb: Callable[[QuerySampleResponse], None] | None = None,
) -> None:
    """Report first tokens (LLM runs); thread-safe."""
    if response_cb is not None:
        for r in responses:
            response_cb(r)
    _lg.first_token(responses)


def last_result() -> TestResult | None:
    """mlmeter extension: the result of the last ``StartTest`` in this process."""
    return _last[0] if _last else None
