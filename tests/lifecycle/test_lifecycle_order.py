"""The exact order of QSL/SUT calls and run events, per scenario and mode (STYLE.md, 5).

``RecordingQSL`` and ``RecordingSUT`` append to one shared ``calls`` list, and an
``EventBus`` subscriber appends the run events to the same list, so one sequence
shows how loading, issuing, flushing, unloading and the events interleave.

Expected orders come from MLPerf LoadGen (reference/loadgen.md §1, §3):

- a loadable set is loaded before the clock starts and unloaded after the SUT was
  flushed; performance mode uses only the first (performance) set;
- accuracy mode issues every loadable set in turn (load, issue..., flush, unload),
  every sample exactly once; MultiStream pads each set with its own first
  ``samples_per_query - 1`` samples and issues contiguous queries starting at
  multiples of ``samples_per_query``, so a set that is not a whole number of
  queries repeats its first samples (and only those);
- submission mode is accuracy then performance; find-peak (Server) runs one
  complete performance test per QPS rung, searching as §3 describes.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mlmeter.events import ClockStarted, EventBus, IssuingEnded, TestEnded, TestStarted
from mlmeter.loadgen import LogSettings, QuerySample, QuerySampleResponse, complete, start_test
from mlmeter.settings import Scenario, TestMode, TestSettings
from mlmeter.suts import NullQSL, NullSUT, RecordingQSL, RecordingSUT

Calls = list[tuple[str, Any]]

_TOKENS = {
    "TestStarted": "S",
    "ClockStarted": "C",
    "IssuingEnded": "E",
    "TestEnded": "T",
    "load": "L",
    "issue": "i",
    "flush": "F",
    "unload": "U",
}

# Small runs: 50 ms minimum duration; expected latencies far below what the
# inline SUT achieves would only make SingleStream/MultiStream run out of
# queries, so they are set low enough for the runs to end on min_duration.
_BASE: dict[str, Any] = {
    "min_duration_ms": 50,
    "min_query_count": 10,
    "single_stream_expected_latency_ns": 2_000,
    "multi_stream_expected_latency_ns": 8_000,
    "multi_stream_samples_per_query": 4,
    "server_target_qps": 2_000.0,
    "offline_expected_qps": 1_000.0,
    "qsl_rng_seed": 11,
    "sample_index_rng_seed": 22,
    "schedule_rng_seed": 33,
}
_SCENARIOS = list(Scenario)


class IndexRecordingQSL(RecordingQSL):
    """A RecordingQSL that also keeps the index list of every load call."""

    def __init__(self, total: int, performance: int, calls: Calls) -> None:
        super().__init__(total, performance, calls)
        self.load_lists: list[list[int]] = []

    def load_samples(self, indices: Sequence[int]) -> None:
        super().load_samples(indices)
        self.load_lists.append(list(indices))


class Harness:
    """A recording QSL and SUT plus an event bus, all writing to one ``calls`` list."""

    def __init__(self, total: int, performance: int) -> None:
        self.calls: Calls = []
        self.qsl = IndexRecordingQSL(total, performance, self.calls)
        self.sut = RecordingSUT(self.calls, self.qsl)
        self.events: list[object] = []
        self.bus = EventBus()
        self.bus.subscribe(self._on_event)

    def _on_event(self, event: object) -> None:
        self.events.append(event)
        self.calls.append(("event", type(event).__name__))

    def tokens(self) -> str:
        """The call sequence as one letter per call (see ``_TOKENS``)."""
        return "".join(_TOKENS[arg if name == "event" else name] for name, arg in self.calls)

    def issue_sizes(self) -> list[int]:
        return [int(arg) for name, arg in self.calls if name == "issue"]

    def queries(self) -> list[list[int]]:
        """The QSL indices of every issued query, in issue order."""
        out, pos = [], 0
        for size in self.issue_sizes():
            out.append(self.sut.indices[pos : pos + size])
            pos += size
        assert pos == len(self.sut.indices)
        return out


def _settings(scenario: Scenario, mode: TestMode, **changes: Any) -> TestSettings:
    return TestSettings(scenario=scenario, mode=mode, **{**_BASE, **changes})


def _run(h: Harness, settings: TestSettings, tmp_path: Path) -> Any:
    return start_test(h.sut, h.qsl, settings, LogSettings(outdir=tmp_path), bus=h.bus)


def _set_sizes(total: int, performance: int) -> list[int]:
    """Loadable set sizes: the shuffled sample list cut into sets of ``performance``."""
    return [min(performance, total - lo) for lo in range(0, total, performance)]


def _spq(scenario: Scenario) -> int:
    return int(_BASE["multi_stream_samples_per_query"]) if scenario is Scenario.MULTI_STREAM else 1


# ------------------------------------------------------------------ performance mode


@pytest.mark.parametrize("scenario", _SCENARIOS, ids=lambda s: s.value)
def test_performance_order(scenario: Scenario, tmp_path: Path) -> None:
    total, perf = 200, 64
    h = Harness(total, perf)
    res = _run(h, _settings(scenario, TestMode.PERFORMANCE_ONLY), tmp_path)

    assert res.error is None
    assert re.fullmatch(r"SLCi+EFUT", h.tokens()), h.tokens()[:80]
    spq = _spq(scenario)
    padded = perf + spq - 1  # MultiStream loads the set padded with spq - 1 samples
    assert h.calls[1] == ("load", padded)
    assert [c for c in h.calls if c[0] == "unload"] == [("unload", padded)]
    assert h.sut.unloaded_hits == 0
    assert h.qsl.loaded == set()  # everything loaded was unloaded again
    # only the performance set is used, and it is shuffled from the first `perf` indices
    loaded = h.qsl.load_lists[0]
    assert sorted(loaded[:perf]) == list(range(perf))
    assert set(h.sut.indices) <= set(loaded)

    sizes = h.issue_sizes()
    record = res.record
    assert record is not None
    assert len(sizes) == record.queries_issued
    if scenario is Scenario.OFFLINE:
        # one query holding every sample: max(min_query_count, 1.1 x duration x qps)
        expected = max(_BASE["min_query_count"], int(1.1 * 0.05 * _BASE["offline_expected_qps"]))
        assert sizes == [expected]
    else:
        assert set(sizes) == {spq}
    if scenario is Scenario.SERVER:
        assert record.queries_issued == record.query_count  # Server issues every query


@pytest.mark.parametrize("scenario", _SCENARIOS, ids=lambda s: s.value)
def test_performance_events(scenario: Scenario, tmp_path: Path) -> None:
    h = Harness(100, 32)
    res = _run(h, _settings(scenario, TestMode.PERFORMANCE_ONLY), tmp_path)

    kinds = [type(e) for e in h.events]
    assert kinds == [TestStarted, ClockStarted, IssuingEnded, TestEnded]
    started, clock, ended_issue, ended = h.events
    assert isinstance(started, TestStarted)
    assert (started.scenario, started.mode, started.sut_name) == (
        scenario.value,
        "PerformanceOnly",
        "RecordingSUT",
    )
    assert isinstance(clock, ClockStarted) and isinstance(ended_issue, IssuingEnded)
    assert isinstance(ended, TestEnded)
    assert clock.mono_ns <= ended_issue.mono_ns <= ended.mono_ns
    assert ended_issue.queries_issued == len(h.issue_sizes())
    assert res.result is not None
    assert ended.valid == res.result.valid


# ------------------------------------------------------------------ accuracy mode


@pytest.mark.parametrize("scenario", _SCENARIOS, ids=lambda s: s.value)
def test_accuracy_one_cycle_per_loadable_set(scenario: Scenario, tmp_path: Path) -> None:
    total, perf = 50, 16  # sets of 16, 16, 16 and 2
    h = Harness(total, perf)
    res = _run(h, _settings(scenario, TestMode.ACCURACY_ONLY), tmp_path)

    assert res.error is None and res.result is None
    sets = _set_sizes(total, perf)
    assert re.fullmatch(rf"S(?:LCi+EFU){{{len(sets)}}}T", h.tokens()), h.tokens()[:80]
    assert h.sut.unloaded_hits == 0
    spq = _spq(scenario)
    loads = [c[1] for c in h.calls if c[0] == "load"]
    unloads = [c[1] for c in h.calls if c[0] == "unload"]
    assert loads == unloads == [n + spq - 1 for n in sets]
    # the unpadded sets partition the data set
    cores = [lst[:n] for lst, n in zip(h.qsl.load_lists, sets, strict=True)]
    assert sorted(i for core in cores for i in core) == list(range(total))
    assert Counter(type(e) for e in h.events) == {
        TestStarted: 1,
        ClockStarted: len(sets),
        IssuingEnded: len(sets),
        TestEnded: 1,
    }

    if scenario is not Scenario.MULTI_STREAM:
        # every sample exactly once; Offline sends one query per loadable set
        assert sorted(h.sut.indices) == list(range(total))
        if scenario is Scenario.OFFLINE:
            assert h.issue_sizes() == sets
        else:
            assert h.issue_sizes() == [1] * total
    assert res.accuracy_entries == len(h.sut.indices)
    entries = json.loads(res.outputs.accuracy.read_text())
    assert sorted(e["qsl_idx"] for e in entries) == sorted(h.sut.indices)


def test_accuracy_log_covers_the_array_fast_path(tmp_path: Path) -> None:
    """Accuracy mode logs every response (§3), also those sent with ``complete_arrays``."""
    total = 40
    settings = _settings(Scenario.OFFLINE, TestMode.ACCURACY_ONLY)
    res = start_test(NullSUT(), NullQSL(total, 16), settings, LogSettings(outdir=tmp_path))
    assert res.error is None and res.outputs.accuracy is not None
    entries = json.loads(res.outputs.accuracy.read_text())
    assert sorted(e["qsl_idx"] for e in entries) == list(range(total))
    assert res.accuracy_entries == total


def test_accuracy_multistream_padding_rule(tmp_path: Path) -> None:
    """MultiStream accuracy: each set issues the contiguous queries of its padded list.

    A set of n samples, padded with its own first spq - 1 samples (cyclically when
    n < spq - 1), gives ceil(n / spq) queries starting at 0, spq, 2 spq, ... so
    every sample is issued at least once, and the repeats are the set's first
    ceil(n / spq) * spq - n samples.
    """
    total, perf, spq = 50, 16, 4
    h = Harness(total, perf)
    _run(h, _settings(Scenario.MULTI_STREAM, TestMode.ACCURACY_ONLY), tmp_path)

    queries = h.queries()
    pos = 0
    for loaded, n in zip(h.qsl.load_lists, _set_sizes(total, perf), strict=True):
        core = loaded[:n]
        assert loaded == [core[k % n] for k in range(n + spq - 1)]  # the padding
        count = math.ceil(n / spq)
        expected = sorted(tuple(loaded[k * spq : (k + 1) * spq]) for k in range(count))
        assert sorted(tuple(q) for q in queries[pos : pos + count]) == expected
        issued = Counter(i for q in queries[pos : pos + count] for i in q)
        assert set(issued) == set(core)
        repeats = Counter({i: c - 1 for i, c in issued.items() if c > 1})
        assert repeats == Counter(core[k % n] for k in range(n, count * spq))
        pos += count
    assert pos == len(queries)


# ------------------------------------------------------------------ submission mode


@pytest.mark.parametrize("scenario", _SCENARIOS, ids=lambda s: s.value)
def test_submission_is_accuracy_then_performance(scenario: Scenario, tmp_path: Path) -> None:
    total, perf = 40, 16  # accuracy: sets of 16, 16, 8; performance: the first set
    h = Harness(total, perf)
    res = _run(h, _settings(scenario, TestMode.SUBMISSION_RUN), tmp_path)

    assert res.error is None
    assert re.fullmatch(r"S(?:LCi+EFU){3}T" + r"SLCi+EFUT", h.tokens()), h.tokens()[:80]
    assert h.sut.unloaded_hits == 0
    modes = [e.mode for e in h.events if isinstance(e, TestStarted)]
    assert modes == ["AccuracyOnly", "PerformanceOnly"]
    assert res.effective.test_mode is TestMode.PERFORMANCE_ONLY and res.result is not None
    # the accuracy pass covered every sample before any performance query went out
    first_perf_issue = h.calls.index(("event", "TestStarted"), 1)
    n_acc = sum(int(a) for name, a in h.calls[:first_perf_issue] if name == "issue")
    acc_indices = h.sut.indices[:n_acc]
    assert set(acc_indices) == set(range(total))


def test_submission_keeps_the_accuracy_log(tmp_path: Path) -> None:
    total, perf = 40, 16
    h = Harness(total, perf)
    res = _run(h, _settings(Scenario.SINGLE_STREAM, TestMode.SUBMISSION_RUN), tmp_path)
    # Accuracy mode copies every response into the accuracy log (§3); a submission run
    # is an accuracy run followed by a performance run, written to the submission
    # layout's accuracy/ and performance/run_1/ folders so neither overwrites the other.
    assert res.outputs.summary == tmp_path / "performance" / "run_1" / "mlperf_log_summary.txt"
    entries = json.loads((tmp_path / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert sorted({e["qsl_idx"] for e in entries}) == list(range(total))


# ------------------------------------------------------------------ find-peak (Server)


class RungSUT(RecordingSUT):
    """Answers inline on passing rungs; on failing rungs answers only at flush, late.

    A rung is one ``start_test``; ``pattern[k]`` says whether rung k meets the
    latency bound. A failing rung holds every response until ``flush_queries`` and
    then sleeps past the bound, so every latency exceeds it.
    """

    def __init__(self, calls: Calls, qsl: RecordingQSL, pattern: list[bool], late_s: float):
        super().__init__(calls, qsl)
        self.pattern = pattern
        self.late_s = late_s
        self.rung = 0
        self.held: list[int] = []

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        if self.pattern[self.rung]:
            super().issue_queries(samples)
            return
        self.calls.append(("issue", len(samples)))
        for s in samples:
            self.indices.append(s.index)
            self.held.append(s.id)

    def flush_queries(self) -> None:
        super().flush_queries()
        if self.held:
            time.sleep(self.late_s)
            complete([QuerySampleResponse(i) for i in self.held])
            self.held.clear()
        self.rung += 1


def _expected_rungs(q0: float, step: float, decimals: int, passes: list[bool]) -> list[float]:
    """The rung QPS sequence of §3's search, given which rungs pass."""
    seq = [q0]
    if not passes[0]:
        return seq
    lo, hi = q0, q0 * (1 + step)
    while True:
        seq.append(hi)
        if not passes[len(seq) - 1]:
            break
        lo, hi = hi, hi * (1 + step)
    while math.floor(lo * 10**decimals) + 1 < math.floor(hi * 10**decimals):
        mid = (lo + hi) / 2
        seq.append(mid)
        if passes[len(seq) - 1]:
            lo = mid
        else:
            hi = mid
    return seq


def test_find_peak_runs_full_lifecycle_per_rung(tmp_path: Path) -> None:
    q0, step, target_ns = 1_000.0, 0.004, 5_000_000
    pattern = [True, True, False, True, False, False, False, False]
    h = Harness(100, 32)
    h.sut = RungSUT(h.calls, h.qsl, pattern, late_s=2 * target_ns / 1e9)
    settings = _settings(
        Scenario.SERVER,
        TestMode.FIND_PEAK_PERFORMANCE,
        min_duration_ms=20,
        server_target_qps=q0,
        server_target_latency_ns=target_ns,
        server_find_peak_qps_boundary_step_size=step,
        server_find_peak_qps_decimals_of_precision=0,
    )
    res = _run(h, settings, tmp_path)

    expected = _expected_rungs(q0, step, 0, pattern)
    assert len(expected) == 5  # pass, pass, fail, then bisection: pass, fail
    assert re.fullmatch(rf"(?:SLCi+EFUT){{{len(expected)}}}", h.tokens()), h.tokens()[:80]
    assert all(e.mode == "PerformanceOnly" for e in h.events if isinstance(e, TestStarted))
    assert h.sut.unloaded_hits == 0
    rung_dirs = sorted((tmp_path / "find_peak").iterdir())
    qps = [
        json.loads((d / "results.json").read_text())["effective"]["target_qps"] for d in rung_dirs
    ]
    assert qps == pytest.approx(expected)
    # the best passing rung is returned and its logs are promoted to the output folder
    best = max(q for q, ok in zip(expected, pattern, strict=False) if ok)
    assert res.effective.target_qps == pytest.approx(best)
    promoted = json.loads((tmp_path / "results.json").read_text())
    assert promoted["effective"]["target_qps"] == pytest.approx(best)


def test_find_peak_stops_at_a_failing_first_rung(tmp_path: Path) -> None:
    h = Harness(100, 32)
    h.sut = RungSUT(h.calls, h.qsl, [False] * 4, late_s=0.01)
    settings = _settings(
        Scenario.SERVER,
        TestMode.FIND_PEAK_PERFORMANCE,
        min_duration_ms=20,
        server_target_latency_ns=5_000_000,
    )
    res = _run(h, settings, tmp_path)
    assert re.fullmatch(r"SLCi+EFUT", h.tokens())
    assert res.result is not None and not res.valid


# ------------------------------------------------------------------ loaded-ness


class UnloadCheckingSUT(RecordingSUT):
    """Answers from another thread after a delay, checking the samples are still loaded."""

    def __init__(self, calls: Calls, qsl: RecordingQSL) -> None:
        super().__init__(calls, qsl)
        self.late_unloaded = 0
        self.threads: list[threading.Thread] = []

    def issue_queries(self, samples: Sequence[QuerySample]) -> None:
        self.calls.append(("issue", len(samples)))
        pairs = [(s.id, s.index) for s in samples]
        self.indices.extend(i for _, i in pairs)
        t = threading.Thread(target=self._answer, args=(pairs,))
        self.threads.append(t)
        t.start()

    def _answer(self, pairs: list[tuple[int, int]]) -> None:
        time.sleep(0.002)
        qsl = self._qsl
        assert qsl is not None
        self.late_unloaded += sum(1 for _, index in pairs if index not in qsl.loaded)
        complete([QuerySampleResponse(sid) for sid, _ in pairs])


@pytest.mark.parametrize("scenario", [Scenario.SERVER, Scenario.OFFLINE], ids=lambda s: s.value)
def test_samples_stay_loaded_until_answered(scenario: Scenario, tmp_path: Path) -> None:
    """The loadgen waits for every response before unloading a set (accuracy, many sets)."""
    h = Harness(30, 10)
    sut = UnloadCheckingSUT(h.calls, h.qsl)
    res = start_test(
        sut,
        h.qsl,
        _settings(scenario, TestMode.ACCURACY_ONLY),
        LogSettings(outdir=tmp_path),
        bus=h.bus,
    )
    for t in sut.threads:
        t.join()
    assert res.error is None
    assert sut.late_unloaded == 0
    assert re.fullmatch(r"S(?:LCi+EFU){3}T", h.tokens())
