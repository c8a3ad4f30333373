"""``start_test``: one run, from settings to logs.

Pipeline: derive effective settings -> generate the whole schedule from the named
seeds -> load samples -> start the clock and issue -> flush -> wait for responses
(with a watchdog) -> unload -> compute results -> write logs. Logs are written
whatever happens: an SUT that raises, a hung SUT, or Ctrl-C end the run with a
reason and an INVALID result, never a hang or a lost log.
"""

from __future__ import annotations

import itertools
from array import array
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from time import perf_counter_ns

import numpy as np
import numpy.typing as npt

from mlmeter.clock import wall_clock_utc_ns
from mlmeter.errors import MlmeterError, RunInterrupted, SUTError, SUTTimeoutError
from mlmeter.events import ClockStarted, EventBus, IssuingEnded, TestEnded, TestStarted
from mlmeter.loadgen import _api
from mlmeter.loadgen._interfaces import QSL, SUT, ArraySUT, IntArray
from mlmeter.loadgen._issuer import (
    Outcome,
    Plan,
    Progress,
    new_outcome,
    run_closed_loop,
    run_offline,
    run_server,
)
from mlmeter.loadgen._log_settings import LogSettings
from mlmeter.loadgen._outputs import RunOutputs, write_outputs
from mlmeter.loadgen._recorder import Recorder, apply_log
from mlmeter.loadgen._timing import quiet_gc, set_timer_slack
from mlmeter.loadgen._waiter import Waiter
from mlmeter.loadgen.schedule import (
    Schedule,
    accuracy_log_offset,
    accuracy_log_values,
    generate_schedule,
)
from mlmeter.logfmt import Check, LogRecord, PerformanceResult
from mlmeter.settings import EffectiveSettings, Scenario, TestMode, TestSettings, derive
from mlmeter.stats import NOT_SET, RunRecord, compute_performance, token_errors


@dataclass
class TestResult:
    """What ``start_test`` returns: the result (None in accuracy mode) and where logs went."""

    __test__ = False

    effective: EffectiveSettings
    result: PerformanceResult | None
    record: RunRecord | None
    outputs: RunOutputs
    error: MlmeterError | None = None
    accuracy_entries: int = 0

    @property
    def valid(self) -> bool:
        """True for a VALID performance run that ended without error."""
        return self.error is None and self.result is not None and self.result.valid


@dataclass
class _State:
    """Mutable state of one run, shared by the phases below."""

    sut: SUT
    qsl: QSL
    requested: TestSettings
    eff: EffectiveSettings
    bus: EventBus
    progress: Progress
    log_origin_ns: int
    records: list[LogRecord] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    recorder: Recorder | None = None
    schedule: Schedule | None = None

    def log(self, key: str, value: object, *, error: bool = False, warning: bool = False) -> None:
        """Add a detail-log record stamped now."""
        t = perf_counter_ns() - self.log_origin_ns
        self.records.append(LogRecord(key, value, t, is_error=error, is_warning=warning))


def start_test(
    sut: SUT,
    qsl: QSL,
    settings: TestSettings,
    log_settings: LogSettings | None = None,
    *,
    bus: EventBus | None = None,
    progress: Progress | None = None,
) -> TestResult:
    """Run one test and write its logs; see the module docstring for the phases."""
    log_settings = log_settings or LogSettings()
    if settings.mode is TestMode.SUBMISSION_RUN:
        return _submission_run(sut, qsl, settings, log_settings, bus=bus, progress=progress)
    if settings.mode is TestMode.FIND_PEAK_PERFORMANCE:
        from mlmeter.loadgen._find_peak import find_peak

        return find_peak(sut, qsl, settings, log_settings, bus=bus, progress=progress)
    origin = perf_counter_ns()
    t0 = perf_counter_ns()
    sut_name = sut.name
    name_ns = perf_counter_ns() - t0
    eff = derive(settings, qsl.total_sample_count, qsl.performance_sample_count)
    st = _State(sut, qsl, settings, eff, bus or EventBus(), progress or Progress(), origin)
    return _run(st, sut_name, name_ns, log_settings)


def _submission_run(
    sut: SUT,
    qsl: QSL,
    settings: TestSettings,
    logs: LogSettings,
    *,
    bus: EventBus | None,
    progress: Progress | None,
) -> TestResult:
    """Accuracy, then performance, into the submission layout's folders.

    Logs go to ``outdir/accuracy`` and ``outdir/performance/run_1`` so neither run
    overwrites the other's files.
    """
    base = Path(logs.outdir)
    acc = start_test(
        sut,
        qsl,
        settings.replace(mode=TestMode.ACCURACY_ONLY),
        replace(logs, outdir=base / "accuracy"),
        bus=bus,
        progress=progress,
    )
    if acc.error is not None:
        return acc
    return start_test(
        sut,
        qsl,
        settings.replace(mode=TestMode.PERFORMANCE_ONLY),
        replace(logs, outdir=base / "performance" / "run_1"),
        bus=bus,
        progress=progress,
    )


def _run(st: _State, sut_name: str, name_ns: int, log_settings: LogSettings) -> TestResult:
    error: MlmeterError | None = None
    st.bus.publish(TestStarted(st.eff.scenario.value, st.eff.test_mode.value, sut_name))
    try:
        _execute(st)
    except KeyboardInterrupt:
        error = RunInterrupted("interrupted (Ctrl-C): partial logs written, the run is INVALID")
    except SUTTimeoutError as exc:
        error = exc
    except MlmeterError as exc:
        error = exc
    except Exception as exc:  # the SUT or QSL raised: end the run with the reason
        error = SUTError(f"the SUT raised {type(exc).__name__}: {exc}")
        error.__cause__ = exc
    finally:
        if st.recorder is not None:
            _api.deactivate(st.recorder)
    if error is not None:
        st.log("error_runtime", str(error), error=True)
    record = _build_record(st)
    if record is not None:
        for message in [*token_errors(record, st.eff), *_response_errors(record)]:
            st.log("error_runtime", message, error=True)
    result = None
    accuracy = st.eff.test_mode is TestMode.ACCURACY_ONLY
    if record is not None and not accuracy:
        result = compute_performance(record, st.eff, sut_name)
        if error is not None:
            result = _invalidate(result, error)
    result = _apply_sample_errors(st, result)
    st.bus.publish(
        TestEnded(
            perf_counter_ns(),
            wall_clock_utc_ns(),
            None if result is None else result.valid,
            str(error or ""),
        )
    )
    outputs = write_outputs(
        log_settings,
        requested=st.requested,
        eff=st.eff,
        sut_name=sut_name,
        sut_name_ns=name_ns,
        qsl=st.qsl,
        records=st.records,
        record=record,
        result=result,
        recorder=st.recorder,
        origin_ns=st.log_origin_ns,
        start_ns=st.outcomes[0].start_ns if st.outcomes else st.log_origin_ns,
    )
    n_acc = len(st.recorder.captured) if st.recorder is not None else 0
    return TestResult(st.eff, result, record, outputs, error, n_acc)


def _apply_sample_errors(st: _State, result: PerformanceResult | None) -> PerformanceResult | None:
    """Log the SUT's failed samples and make the result INVALID if there were any."""
    failed = _sample_errors(st.recorder)
    if not failed:
        return result
    st.log("error_runtime", failed, error=True)
    if result is None:
        return None
    check = Check("sample_errors", False, failed)
    return replace(result, valid=False, checks=(*result.checks, check))


def _sample_errors(rec: Recorder | None) -> str:
    """The SUT's ``sample_error`` calls as one message with the count per reason, or ""."""
    if rec is None or not rec.sample_errors:
        return ""
    counts = Counter(rec.sample_errors)
    detail = ", ".join(f"{reason}: {n}" for reason, n in counts.most_common())
    return f"{len(rec.sample_errors)} sample(s) failed in the SUT ({detail})"


def _response_errors(record: RunRecord) -> list[str]:
    """Errors for answers the SUT should not have sent."""
    out = []
    if record.unknown_responses:
        out.append(f"{record.unknown_responses} response(s) with an unknown sample id")
    if record.duplicate_responses:
        out.append(f"{record.duplicate_responses} duplicate response(s) to answered samples")
    return out


def _invalidate(result: PerformanceResult, error: MlmeterError) -> PerformanceResult:
    check = Check("run_completed", False, f"the run did not complete: {error}")
    return replace(result, valid=False, checks=(*result.checks, check))


def _execute(st: _State) -> None:
    eff = st.eff
    accuracy = eff.test_mode is TestMode.ACCURACY_ONLY
    st.log("generic_message", "Starting accuracy mode" if accuracy else "Starting performance mode")
    st.schedule = sched = _make_schedule(st.requested, eff, st.qsl)
    st.recorder = rec = _make_recorder(eff, sched, accuracy)
    _api.activate(rec)
    waiter = Waiter(rec, eff.response_timeout_ms)
    bounds = sched.set_query_start.tolist()
    for set_no, (q0, q1) in enumerate(itertools.pairwise(bounds)):
        loaded = sched.loadable_sets[set_no].tolist()
        st.qsl.load_samples(loaded)
        st.log("loaded_qsl_set", loaded if len(loaded) <= 4096 else loaded[:4096])
        st.log("generated_query_count", q1 - q0)
        st.log("generated_samples_per_query", sched.samples_per_query)
        st.log("generated_query_duration", int(sched.set_duration_ns[set_no]))
        try:
            _issue_set(st, waiter, q0, q1, accuracy)
        finally:
            st.qsl.unload_samples(loaded)


def _make_schedule(req: TestSettings, eff: EffectiveSettings, qsl: QSL) -> Schedule:
    multi = eff.scenario is Scenario.MULTI_STREAM
    return generate_schedule(
        scenario=eff.scenario.value,
        mode=eff.test_mode.value,
        total_sample_count=qsl.total_sample_count,
        performance_sample_count=eff.performance_sample_count,
        samples_per_query=eff.samples_per_query if multi else 1,
        min_query_count=req.min_query_count,
        min_duration_ms=req.min_duration_ms,
        target_qps=eff.target_qps,
        qsl_rng_seed=eff.qsl_rng_seed,
        sample_index_rng_seed=eff.sample_index_rng_seed,
        schedule_rng_seed=eff.schedule_rng_seed,
        sample_concatenate_permutation=eff.sample_concatenate_permutation,
        performance_issue_unique=eff.performance_issue_unique,
        performance_issue_same=eff.performance_issue_same,
        performance_issue_same_index=eff.performance_issue_same_index,
        accuracy_sample_count=req.accuracy_sample_count_override,
    )


def _make_recorder(eff: EffectiveSettings, sched: Schedule, accuracy: bool) -> Recorder:
    n = int(sched.sample_index.size)
    capture = None
    if not accuracy and (eff.accuracy_log_probability > 0 or eff.accuracy_log_sampling_target):
        capture = _accuracy_log_mask(eff, n)
    return Recorder(
        n,
        tokens=eff.use_token_latencies,
        capture=capture,
        capture_all=accuracy,
        base=_api.next_id_base(),
    )


def _accuracy_log_mask(eff: EffectiveSettings, n: int) -> npt.NDArray[np.bool_]:
    """Which samples performance mode copies into the accuracy log (TEST01's seam).

    As officially: p = accuracy_log_probability, or sampling_target / expected samples;
    a sample is logged when ``(value + offset) mod 1 <= p``.
    """
    prob = eff.accuracy_log_probability
    if eff.accuracy_log_sampling_target:
        expected = int(eff.target_qps * eff.min_duration_ms / 1000)
        if eff.scenario is not Scenario.OFFLINE:
            expected *= eff.samples_per_query
        expected = max(expected, eff.min_sample_count)
        prob = eff.accuracy_log_sampling_target / max(expected, 1)
    offset = accuracy_log_offset(eff.accuracy_log_rng_seed)
    vals = accuracy_log_values(n) + offset
    vals = np.where(vals < 1.0, vals, vals - 1.0)
    mask: npt.NDArray[np.bool_] = vals <= prob
    return mask


def _issue_set(st: _State, waiter: Waiter, q0: int, q1: int, accuracy: bool) -> None:
    sched, eff, sut = st.schedule, st.eff, st.sut
    assert sched is not None
    assert st.recorder is not None
    plan = _plan(sched, eff, q0, q1, accuracy, st.recorder.base)
    now = perf_counter_ns()
    st.bus.publish(ClockStarted(now, wall_clock_utc_ns()))
    out = new_outcome(plan)
    st.outcomes.append(out)  # before the loop: an interrupted loop still counts
    old_slack = set_timer_slack(1)
    with quiet_gc():
        try:
            _loop(st, plan, waiter, out)
        finally:
            if old_slack is not None:
                set_timer_slack(old_slack)
    for msg in out.errors:
        st.log("error_runtime", msg, error=True)
    if out.end_message:
        st.log("generic_message", out.end_message)
    st.bus.publish(IssuingEnded(perf_counter_ns(), out.queries_issued))
    with quiet_gc():
        sut.flush_queries()
        waiter.wait_count(int(sched.query_start[q0 + out.queries_issued]))


def _loop(st: _State, plan: Plan, waiter: Waiter, out: Outcome) -> None:
    sut, scen = st.sut, st.eff.scenario
    if scen is Scenario.OFFLINE:
        sched = st.schedule
        assert sched is not None
        fast = sut.issue_arrays if isinstance(sut, ArraySUT) else None
        run_offline(sut.issue_queries, fast, plan, sched.sample_index, st.progress, out)
    elif scen is Scenario.SERVER:
        run_server(sut.issue_queries, plan, waiter, st.progress, out)
    else:
        run_closed_loop(sut.issue_queries, plan, waiter, st.progress, out)


def _plan(
    sched: Schedule, eff: EffectiveSettings, q0: int, q1: int, accuracy: bool, base: int
) -> Plan:
    offline = eff.scenario is Scenario.OFFLINE
    return Plan(
        query_start=array("q", sched.query_start.tobytes()),
        sample_index=array("q") if offline else array("q", sched.sample_index.tobytes()),
        scheduled_ns=array("q", sched.scheduled_ns.tobytes()),
        first_query=q0,
        end_query=q1,
        min_query_count=sched.min_query_count,
        target_duration_ns=sched.target_duration_ms * 1_000_000,
        max_query_count=eff.max_query_count,
        max_duration_ns=eff.max_duration_ms * 1_000_000,
        accuracy=accuracy,
        max_async_queries=eff.max_async_queries if eff.scenario is Scenario.SERVER else 0,
        coalesce=eff.server_coalesce_queries,
        id_base=base,
    )


def _build_record(st: _State) -> RunRecord | None:
    sched, rec = st.schedule, st.recorder
    if sched is None or rec is None:
        return None
    nq = sum(o.queries_issued for o in st.outcomes)
    issued = np.full(sched.query_count, NOT_SET, dtype=np.int64)
    scheduled = np.full(sched.query_count, NOT_SET, dtype=np.int64)
    origin = st.outcomes[0].start_ns if st.outcomes else st.log_origin_ns
    q = 0
    for out in st.outcomes:
        k = out.queries_issued
        issued[q : q + k] = np.asarray(out.issued_ns, dtype=np.int64)[:k] - origin
        sched_abs = out.scheduled_abs_ns if len(out.scheduled_abs_ns) else out.issued_ns
        scheduled[q : q + k] = np.asarray(sched_abs, dtype=np.int64)[:k] - origin
        q += k
    ns = int(sched.query_start[nq])
    return _record_from(sched, rec, issued, scheduled, nq, ns, origin)


def _record_from(
    sched: Schedule,
    rec: Recorder,
    issued: IntArray,
    scheduled: IntArray,
    nq: int,
    ns: int,
    origin: int,
) -> RunRecord:
    n = int(sched.sample_index.size)
    done = np.full(n, NOT_SET, dtype=np.int64)
    arrivals = apply_log(rec.log, done, ns, origin, rec.base)
    rec.log.clear()  # the ids now live in ``done``
    first_tok = np.zeros(0, dtype=np.int64)
    n_tokens = np.zeros(0, dtype=np.int64)
    if rec.tokens:
        first_tok = np.full(n, NOT_SET, dtype=np.int64)
        apply_log(rec.token_log, first_tok, ns, origin, rec.base)
        n_tokens = np.zeros(n, dtype=np.int64)
        for sid, count in rec.n_tokens.items():
            if 0 <= sid - rec.base < n:
                n_tokens[sid - rec.base] = count
    return RunRecord(
        query_start=sched.query_start,
        sample_index=sched.sample_index,
        scheduled_ns=scheduled,
        issued_ns=issued,
        completed_ns=done,
        first_token_ns=first_tok,
        n_tokens=n_tokens,
        queries_issued=nq,
        samples_issued=ns,
        unknown_responses=arrivals.unknown,
        duplicate_responses=arrivals.duplicates,
    )
