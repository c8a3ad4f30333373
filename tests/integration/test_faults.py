"""Faulty SUTs and bad settings end a run with a reason and its logs, never a hang.

The loadgen's promise (``mlmeter.loadgen._session``): an SUT that raises, stops
answering, answers ids it was never sent or answers twice, or a Ctrl-C, ends the run
with a named error and an INVALID result, and the summary, detail log and
results.json are still written. Settings mistakes fail before any query is issued.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import mlmeter.compat.mlperf_loadgen as lg
from mlmeter.errors import ConfigError, RunInterrupted, SUTError, SUTTimeoutError
from mlmeter.loadgen import (
    LogSettings,
    QuerySample,
    QuerySampleResponse,
    TestResult,
    complete,
    start_test,
)
from mlmeter.settings import Scenario, TestMode, TestSettings, load_test_settings
from mlmeter.suts import NullQSL, NullSUT, RecordingQSL, RecordingSUT


def _settings(scenario: Scenario = Scenario.SINGLE_STREAM, **changes: Any) -> TestSettings:
    base: dict[str, Any] = {
        "scenario": scenario,
        "min_duration_ms": 100,
        "min_query_count": 10,
        "single_stream_expected_latency_ns": 20_000,
        "multi_stream_expected_latency_ns": 80_000,
        "server_target_qps": 1_000.0,
        "offline_expected_qps": 1_000.0,
    }
    return TestSettings(**{**base, **changes})


def _detail(res: TestResult) -> list[dict[str, Any]]:
    assert res.outputs.detail is not None
    lines = res.outputs.detail.read_text().splitlines()
    return [json.loads(line[len(":::MLLOG") :]) for line in lines if line.startswith(":::MLLOG")]


def _results(res: TestResult) -> dict[str, Any]:
    assert res.outputs.results_json is not None
    doc: dict[str, Any] = json.loads(res.outputs.results_json.read_text())
    return doc


def _summary(res: TestResult) -> str:
    assert res.outputs.summary is not None
    return res.outputs.summary.read_text()


def _assert_invalid_with_logs(res: TestResult) -> None:
    summary = _summary(res)
    assert "Result is : INVALID" in summary
    assert res.outputs.detail is not None and res.outputs.detail.is_file()
    assert _results(res)["validity"]["valid"] is False
    assert not res.valid


class RaisingSUT:
    """Answers ``ok`` queries, then raises from ``issue_queries``."""

    name = "RaisingSUT"

    def __init__(self, ok: int, exc: BaseException) -> None:
        self.ok = ok
        self.exc = exc
        self.issued = 0

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self.issued += 1
        if self.issued > self.ok:
            raise self.exc
        complete([QuerySampleResponse(s.id) for s in samples])

    def flush_queries(self) -> None:
        pass


class SilentSUT:
    """Answers the first ``answer`` queries inline and then never again."""

    name = "SilentSUT"

    def __init__(self, answer: int = 0) -> None:
        self.answer = answer
        self.issued = 0

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self.issued += 1
        if self.issued <= self.answer:
            complete([QuerySampleResponse(s.id) for s in samples])

    def flush_queries(self) -> None:
        pass


# ------------------------------------------------------------------ an SUT that raises


@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_sut_exception_ends_run_with_sut_error(scenario: Scenario, tmp_path: Path) -> None:
    ok = 0 if scenario is Scenario.OFFLINE else 3  # Offline has a single issue call
    sut = RaisingSUT(ok=ok, exc=ValueError("model exploded at batch 7"))
    res = start_test(sut, NullQSL(64), _settings(scenario), LogSettings(outdir=tmp_path))

    assert isinstance(res.error, SUTError)
    assert "ValueError" in str(res.error) and "model exploded at batch 7" in str(res.error)
    assert isinstance(res.error.__cause__, ValueError)
    _assert_invalid_with_logs(res)
    errors = [r for r in _detail(res) if r["key"] == "error_runtime"]
    assert any("model exploded at batch 7" in r["value"] for r in errors)
    assert all(r["metadata"]["is_error"] for r in errors)
    assert re.search(r"\d+ ERRORS? encountered", _summary(res))
    assert any("model exploded" in e for e in _results(res)["problems"]["errors"])


def test_sut_exception_in_accuracy_mode_still_writes_logs(tmp_path: Path) -> None:
    sut = RaisingSUT(ok=5, exc=RuntimeError("bad input"))
    settings = _settings(mode=TestMode.ACCURACY_ONLY)
    res = start_test(sut, NullQSL(64, 16), settings, LogSettings(outdir=tmp_path))

    assert isinstance(res.error, SUTError) and "bad input" in str(res.error)
    assert res.result is None  # accuracy mode computes no result
    summary = _summary(res)
    assert "1 ERROR encountered" in summary
    assert any(r["key"] == "error_runtime" for r in _detail(res))
    assert res.outputs.accuracy is not None
    entries = json.loads(res.outputs.accuracy.read_text())
    assert len(entries) == 5  # the five answered samples are kept


def test_sut_exception_unloads_the_loaded_set(tmp_path: Path) -> None:
    calls: list[tuple[str, object]] = []
    qsl = RecordingQSL(64, 16, calls)
    sut = RaisingSUT(ok=2, exc=OSError("device lost"))
    res = start_test(sut, qsl, _settings(), LogSettings(outdir=tmp_path))
    assert isinstance(res.error, SUTError)
    assert [c[0] for c in calls] == ["load", "unload"]
    assert qsl.loaded == set()


# ------------------------------------------------------------------ an SUT that stops answering


def test_silent_sut_times_out_with_missing_count(tmp_path: Path) -> None:
    settings = _settings(Scenario.OFFLINE, response_timeout_ms=300)
    start = time.perf_counter()
    res = start_test(SilentSUT(), NullQSL(64), settings, LogSettings(outdir=tmp_path))
    elapsed = time.perf_counter() - start

    assert isinstance(res.error, SUTTimeoutError)
    # The whole Offline query went unanswered: max(10, 1.1 x 0.1 s x 1000 qps) = 110 samples.
    assert "110 sample(s) never answered" in str(res.error)
    assert "response_timeout_ms" in str(res.error)  # names the knob to raise
    # 300 ms of silence plus the 50 ms poll: generously, well under the 120 s default.
    assert elapsed < 5.0
    _assert_invalid_with_logs(res)
    assert any(r["key"] == "error_runtime" for r in _detail(res))


def test_sut_that_answers_some_then_hangs(tmp_path: Path) -> None:
    settings = _settings(response_timeout_ms=300)
    sut = SilentSUT(answer=20)
    start = time.perf_counter()
    res = start_test(sut, NullQSL(64), settings, LogSettings(outdir=tmp_path))

    assert time.perf_counter() - start < 5.0
    assert isinstance(res.error, SUTTimeoutError)
    # SingleStream waits for query 21 (samples [20, 21)) before issuing more.
    assert sut.issued == 21
    assert "[20, 21)" in str(res.error) and "1 sample(s) never answered" in str(res.error)
    _assert_invalid_with_logs(res)


def test_partial_run_keeps_what_was_issued(tmp_path: Path) -> None:
    settings = _settings(response_timeout_ms=300)
    sut = SilentSUT(answer=20)
    res = start_test(sut, NullQSL(64), settings, LogSettings(outdir=tmp_path))
    assert res.record is not None
    assert res.record.queries_issued == sut.issued == 21
    assert res.record.missing_samples == 1


class StaleSUT(SilentSUT):
    """Never answers; remembers the ids it was sent (a straggler answers them later)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[int] = []

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self.ids.extend(s.id for s in samples)


class StragglerDuringNextRunSUT(NullSUT):
    """Answers inline; on its first query, a previous run's straggler answers first."""

    def __init__(self, stale_ids: list[int]) -> None:
        super().__init__()
        self.stale_ids = stale_ids

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        if self.stale_ids:
            complete([QuerySampleResponse(i) for i in self.stale_ids])
            self.stale_ids = []
        super().issue_queries(samples)


def test_responses_after_a_timeout_are_dropped_when_no_run_is_active(tmp_path: Path) -> None:
    from mlmeter.loadgen import late_responses

    stale = StaleSUT()
    settings = _settings(Scenario.SERVER, response_timeout_ms=200, min_duration_ms=20)
    res = start_test(stale, NullQSL(64), settings, LogSettings(outdir=tmp_path))
    assert isinstance(res.error, SUTTimeoutError)
    before = late_responses()
    complete([QuerySampleResponse(i) for i in stale.ids])
    assert late_responses() == before + len(stale.ids)


def test_stragglers_of_a_timed_out_run_do_not_answer_the_next_run(tmp_path: Path) -> None:
    stale = StaleSUT()
    settings = _settings(Scenario.SERVER, response_timeout_ms=200, min_duration_ms=20)
    first = start_test(stale, NullQSL(64), settings, LogSettings(outdir=tmp_path / "a"))
    assert isinstance(first.error, SUTTimeoutError) and len(stale.ids) > 1

    sut = StragglerDuringNextRunSUT(stale.ids)
    second = start_test(
        sut,
        NullQSL(64),
        _settings(Scenario.SERVER, min_duration_ms=50),
        LogSettings(outdir=tmp_path / "b"),
    )
    assert second.error is None and second.record is not None and second.result is not None
    # Stale answers must not be taken for this run's samples: no sample may complete
    # before it was scheduled, and the SUT answered each of its own samples once.
    assert second.result.sample_latency.min_ns >= 0
    assert second.record.duplicate_responses == 0


# ------------------------------------------------------------------ unknown and duplicate ids


class SloppySUT:
    """Answers every sample twice and, per query, two ids it was never sent."""

    name = "SloppySUT"

    def __init__(self) -> None:
        self.queries = 0

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self.queries += 1
        complete([QuerySampleResponse(s.id) for s in samples])
        complete([QuerySampleResponse(s.id) for s in samples])
        complete([QuerySampleResponse(10**12), QuerySampleResponse(-1)])

    def flush_queries(self) -> None:
        pass


@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_unknown_and_duplicate_responses_are_counted(scenario: Scenario, tmp_path: Path) -> None:
    sut = SloppySUT()
    res = start_test(sut, NullQSL(64), _settings(scenario), LogSettings(outdir=tmp_path))

    assert res.error is None and res.record is not None
    rec = res.record
    assert rec.unknown_responses == 2 * sut.queries
    assert rec.duplicate_responses == rec.samples_issued
    assert rec.missing_samples == 0
    problems = _results(res)["problems"]
    assert problems["unknown_responses"] == rec.unknown_responses
    assert problems["duplicate_responses"] == rec.duplicate_responses


class UnknownFirstSUT:
    """Offline: sends one bogus id at once, then answers the real samples late, in two parts."""

    name = "UnknownFirstSUT"

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        ids = [s.id for s in samples]
        complete([QuerySampleResponse(10**12)])
        t = threading.Thread(target=self._answer, args=(ids,))
        self.threads.append(t)
        t.start()

    def _answer(self, ids: list[int]) -> None:
        time.sleep(0.02)
        complete([QuerySampleResponse(i) for i in ids[:-1]])
        time.sleep(0.1)
        complete([QuerySampleResponse(ids[-1])])

    def flush_queries(self) -> None:
        pass


def test_unknown_ids_do_not_count_as_completions(tmp_path: Path) -> None:
    sut = UnknownFirstSUT()
    settings = _settings(Scenario.OFFLINE, min_duration_ms=10)
    res = start_test(sut, NullQSL(64), settings, LogSettings(outdir=tmp_path))
    for t in sut.threads:
        t.join()
    assert res.record is not None
    assert res.record.unknown_responses == 1
    # every real sample was answered (120 ms after issue, far inside the timeout)
    assert res.record.missing_samples == 0


class DuplicatingMultiStreamSUT:
    """Answers a query's first sample spq times at once, the other samples 5 ms later."""

    name = "DuplicatingMultiStreamSUT"

    def __init__(self) -> None:
        self.outstanding = 0
        self.overlaps = 0
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        ids = [s.id for s in samples]
        with self.lock:
            self.overlaps += self.outstanding > 0
            self.outstanding += len(ids) - 1
        complete([QuerySampleResponse(ids[0]) for _ in ids])
        t = threading.Thread(target=self._rest, args=(ids[1:],))
        self.threads.append(t)
        t.start()

    def _rest(self, ids: list[int]) -> None:
        time.sleep(0.005)
        with self.lock:
            self.outstanding -= len(ids)
        complete([QuerySampleResponse(i) for i in ids])

    def flush_queries(self) -> None:
        pass


def test_duplicates_do_not_complete_a_multistream_query(tmp_path: Path) -> None:
    sut = DuplicatingMultiStreamSUT()
    settings = _settings(
        Scenario.MULTI_STREAM, multi_stream_samples_per_query=4, min_duration_ms=50
    )
    res = start_test(sut, NullQSL(64), settings, LogSettings(outdir=tmp_path))
    for t in sut.threads:
        t.join()
    # MultiStream issues a query only when the previous one fully completed (§1).
    assert sut.overlaps == 0
    assert res.record is not None and res.record.missing_samples == 0


# ------------------------------------------------------------------ Ctrl-C


@pytest.mark.parametrize("scenario", list(Scenario), ids=lambda s: s.value)
def test_keyboard_interrupt_in_sut_gives_run_interrupted(
    scenario: Scenario, tmp_path: Path
) -> None:
    ok = 0 if scenario is Scenario.OFFLINE else 4
    sut = RaisingSUT(ok=ok, exc=KeyboardInterrupt())
    res = start_test(sut, NullQSL(64), _settings(scenario), LogSettings(outdir=tmp_path))

    assert isinstance(res.error, RunInterrupted)
    assert res.error.exit_code == 130
    _assert_invalid_with_logs(res)
    assert any("interrupted" in r["value"] for r in _detail(res) if r["key"] == "error_runtime")


# ------------------------------------------------------------------ settings mistakes


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_conf_typo_fails_before_any_query_native(tmp_path: Path) -> None:
    conf = _write(
        tmp_path / "user.conf",
        "# my settings\n*.Offline.target_qps = 100\n*.Offline.min_duraton = 500\n",
    )
    with pytest.raises(ConfigError) as info:
        load_test_settings(model="resnet50", scenario=Scenario.OFFLINE, user_conf=conf)
    assert str(info.value).startswith(f"{conf}:3: ")
    assert "'min_duraton'" in str(info.value) and "'min_duration'" in str(info.value)
    assert info.value.line_no == 3


def test_audit_config_typo_fails_before_the_sut_sees_a_query(tmp_path: Path) -> None:
    """Compat: a bad audit.config raises (file:line) before loading or issuing anything."""
    audit = _write(tmp_path / "audit.config", "*.*.performance_issue_uniqe = 1\n")
    calls: list[str] = []
    sut = lg.ConstructSUT(lambda qs: calls.append("issue"), lambda: calls.append("flush"))
    qsl = lg.ConstructQSL(64, 64, lambda i: calls.append("load"), lambda i: calls.append("unload"))
    settings = lg.TestSettings()
    settings.min_duration_ms = 50
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(tmp_path)
    try:
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(audit))}:1: .*did you mean"):
            lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, str(audit))
    finally:
        lg.DestroySUT(sut)
        lg.DestroyQSL(qsl)
    assert calls == []
    assert not (tmp_path / "mlperf_log_summary.txt").exists()


def test_compat_from_config_typo_names_file_and_line(tmp_path: Path) -> None:
    conf = _write(tmp_path / "user.conf", "\n\nresnet50.Server.target_qsp = 10\n")
    settings = lg.TestSettings()
    with pytest.raises(ConfigError) as info:
        settings.FromConfig(str(conf), "resnet50", "Server")
    assert info.value.path == str(conf) and info.value.line_no == 3
    assert "target_qps" in str(info.value)


def test_bad_audit_flags_fail_before_loading(tmp_path: Path) -> None:
    calls: list[tuple[str, object]] = []
    qsl = RecordingQSL(64, 16, calls)
    settings = _settings(performance_issue_same=True, performance_issue_same_index=16)
    with pytest.raises(Exception, match="performance_issue_same_index"):
        start_test(RecordingSUT(calls, qsl), qsl, settings, LogSettings(outdir=tmp_path))
    assert calls == []


# ------------------------------------------------------------------ runs too short to be valid


def test_offline_expected_qps_too_low_is_invalid_min_duration(tmp_path: Path) -> None:
    # 100 qps x 0.2 s x 1.1 = 22 < min_query_count, so the query holds 100 samples,
    # which NullSUT answers in far less than 200 ms.
    settings = _settings(
        Scenario.OFFLINE, min_duration_ms=200, min_query_count=100, offline_expected_qps=100.0
    )
    res = start_test(NullSUT(), NullQSL(64), settings, LogSettings(outdir=tmp_path))

    assert res.error is None and res.result is not None
    assert res.result.sample_count == 100
    summary = _summary(res)
    assert "Result is : INVALID" in summary
    assert "Min duration satisfied : NO" in summary
    assert "Increase expected QPS" in summary
    validity = _results(res)["validity"]
    assert validity["valid"] is False and validity["min_duration_met"] is False
    (rule,) = [r for r in validity["failed_rules"] if r["code"] == "min_duration"]
    seconds = [float(x) for x in re.findall(r"(\d+\.\d+) s", rule["message"])]
    assert len(seconds) == 2
    finished, required = seconds
    assert required == pytest.approx(0.2) and finished < required


def test_singlestream_expected_latency_too_high_runs_out_of_queries(tmp_path: Path) -> None:
    # Expected 20 ms per query: queries are generated every 20 ms until one falls at or
    # after 2 x min_duration = 200 ms, i.e. 11 of them (0, 20, ..., 200 ms), which
    # NullSUT answers long before min_duration (100 ms).
    settings = _settings(min_duration_ms=100, single_stream_expected_latency_ns=20_000_000)
    res = start_test(NullSUT(), NullQSL(64), settings, LogSettings(outdir=tmp_path))

    assert res.error is None and res.record is not None
    assert res.record.queries_issued == res.record.query_count == 11
    errors = [r["value"] for r in _detail(res) if r["key"] == "error_runtime"]
    assert any("Ran out of generated queries" in e for e in errors)
    summary = _summary(res)
    assert "Result is : INVALID" in summary
    assert "Min duration satisfied : NO" in summary
    assert "1 ERROR encountered" in summary
    validity = _results(res)["validity"]
    assert validity["min_duration_met"] is False
    assert validity["min_queries_met"] is True  # min_query_count 10 was issued
