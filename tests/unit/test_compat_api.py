"""``mlmeter.compat.mlperf_loadgen``: the surface official harnesses use, checked against
a committed copy of the official 6.0.17 API and, where the wheel is installed, against
the wheel itself (only its pure-Python surface: no official ``StartTest`` runs in this
process, since LoadGen keeps global state)."""

from __future__ import annotations

import array
import pickle
import threading
import time
from collections.abc import MutableSequence
from pathlib import Path
from typing import Any

import pytest

import mlmeter.compat.mlperf_loadgen as lg
from mlmeter.errors import ConfigError
from mlmeter.logfmt import read_accuracy_log, read_detail
from mlmeter.settings import OFFICIAL_QSL_RNG_SEED, OFFICIAL_SCHEDULE_RNG_SEED


def _has_official() -> bool:
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        return False
    return True


HAS_OFFICIAL = _has_official()
needs_official = pytest.mark.skipif(not HAS_OFFICIAL, reason="mlperf_loadgen not installed")

# Module names a harness uses (the official module also has VectorQuerySample and
# VectorQuerySampleResponse, pybind list wrappers no harness needs; see below).
HARNESS_NAMES = (
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
)
# Enum members and their integer values in the official 6.0.17 binding.
OFFICIAL_ENUMS = {
    "TestScenario": {"SingleStream": 0, "MultiStream": 1, "Server": 2, "Offline": 3},
    "TestMode": {
        "SubmissionRun": 0,
        "AccuracyOnly": 1,
        "PerformanceOnly": 2,
        "FindPeakPerformance": 3,
    },
    "LoggingMode": {"AsyncPoll": 0, "EndOfTestOnly": 1, "Synchronous": 2},
}
# dir(mlperf_loadgen.TestSettings()) of 6.0.17 with the default values (enums by name).
OFFICIAL_SETTINGS_DEFAULTS: dict[str, Any] = {
    "accuracy_log_probability": 0.0,
    "accuracy_log_rng_seed": 0,
    "accuracy_log_sampling_target": 0,
    "accuracy_sample_count_override": 0,
    "infer_token_latencies": False,
    "max_duration_ms": 0,
    "max_query_count": 0,
    "min_duration_ms": 10000,
    "min_query_count": 100,
    "mode": "PerformanceOnly",
    "multi_stream_expected_latency_ns": 8000000.0,
    "multi_stream_samples_per_query": 8,
    "multi_stream_target_latency_percentile": 0.99,
    "offline_expected_qps": 1.0,
    "performance_issue_same": False,
    "performance_issue_same_index": 0,
    "performance_issue_unique": False,
    "performance_sample_count_override": 0,
    "print_timestamps": False,
    "qsl_rng_seed": 0,
    "sample_concatenate_permutation": False,
    "sample_index_rng_seed": 0,
    "scenario": "SingleStream",
    "schedule_rng_seed": 0,
    "server_coalesce_queries": False,
    "server_find_peak_qps_boundary_step_size": 1.0,
    "server_find_peak_qps_decimals_of_precision": 1,
    "server_max_async_queries": 0,
    "server_num_issue_query_threads": 0,
    "server_target_latency_ns": 100000000,
    "server_target_latency_percentile": 0.99,
    "server_target_qps": 1.0,
    "single_stream_expected_latency_ns": 1000000.0,
    "single_stream_target_latency_percentile": 0.9,
    "test05": False,
    "test05_qsl_rng_seed": 0,
    "test05_sample_index_rng_seed": 0,
    "test05_schedule_rng_seed": 0,
    "token_latency_scaling_factor": 0,
    "tpot_latency": 100000000,
    "ttft_latency": 100000000,
    "use_token_latencies": False,
}
# The official Python attribute names that mlmeter.settings.TestSettings spells differently.
RENAMED = {"ttft_latency": "server_ttft_latency", "tpot_latency": "server_tpot_latency"}
OFFICIAL_LOG_OUTPUT_DEFAULTS = {
    "copy_detail_to_stdout": False,
    "copy_summary_to_stdout": False,
    "outdir": ".",
    "prefix": "mlperf_log_",
    "prefix_with_datetime": False,
    "suffix": "",
}


def _plain(value: Any) -> Any:
    """Enum members by name, other values as they are."""
    return getattr(value, "name", value)


def _official() -> Any:
    import mlperf_loadgen

    return mlperf_loadgen


def _public(obj: Any) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


# ---------------------------------------------------------------- names and defaults


def test_every_name_a_harness_uses_exists() -> None:
    missing = [name for name in HARNESS_NAMES if not hasattr(lg, name)]
    assert not missing


def test_enum_members_have_the_official_names() -> None:
    for enum_name, members in OFFICIAL_ENUMS.items():
        enum = getattr(lg, enum_name)
        assert [m.name for m in enum] == list(members), enum_name


@needs_official
def test_committed_official_surface_is_the_wheels() -> None:
    official = _official()
    assert set(HARNESS_NAMES) <= _public(official)
    for enum_name, members in OFFICIAL_ENUMS.items():
        enum = getattr(official, enum_name)
        assert {k: int(v) for k, v in enum.__members__.items()} == members
    settings = official.TestSettings()
    names = _public(settings) - {"FromConfig"}
    assert names == set(OFFICIAL_SETTINGS_DEFAULTS)
    assert {n: _plain(getattr(settings, n)) for n in names} == OFFICIAL_SETTINGS_DEFAULTS
    log_output = official.LogOutputSettings()
    assert {n: getattr(log_output, n) for n in _public(log_output)} == (
        OFFICIAL_LOG_OUTPUT_DEFAULTS
    )


@needs_official
def test_every_official_module_name_exists() -> None:
    missing = sorted(_public(_official()) - _public(lg))
    assert not missing, missing


def test_enum_values_and_int_conversion_match_official() -> None:
    for enum_name, members in OFFICIAL_ENUMS.items():
        enum = getattr(lg, enum_name)
        for name, value in members.items():
            assert enum(value) is enum[name], f"{enum_name}({value})"
            assert int(enum[name]) == value, f"int({enum_name}.{name})"


def test_test_settings_has_every_official_attribute() -> None:
    settings = lg.TestSettings()
    missing = [name for name in OFFICIAL_SETTINGS_DEFAULTS if not hasattr(settings, name)]
    assert not missing


def test_test_settings_defaults_equal_the_official_defaults() -> None:
    settings = lg.TestSettings()
    ours = {name: _plain(getattr(settings, name)) for name in OFFICIAL_SETTINGS_DEFAULTS}
    assert ours == OFFICIAL_SETTINGS_DEFAULTS


def test_dir_lists_the_settings_as_officially() -> None:
    missing = set(OFFICIAL_SETTINGS_DEFAULTS) - set(dir(lg.TestSettings()))
    assert not missing, sorted(missing)


def test_renamed_attributes_reach_the_mlmeter_fields() -> None:
    settings = lg.TestSettings()
    settings.ttft_latency = 2_000_000_000
    settings.tpot_latency = 200_000_000
    ours = settings.to_mlmeter()
    for official_name, field in RENAMED.items():
        assert getattr(ours, field) == getattr(settings, official_name)


def test_unknown_attribute_raises_attribute_error_as_officially() -> None:
    settings = lg.TestSettings()
    with pytest.raises(AttributeError, match="min_duraton"):
        settings.min_duraton = 5
    with pytest.raises(AttributeError):
        _ = settings.min_duraton


def test_expected_latencies_accept_floats_as_officially() -> None:
    settings = lg.TestSettings()
    settings.single_stream_expected_latency_ns = 2.5e5
    settings.multi_stream_expected_latency_ns = 8e6
    ours = settings.to_mlmeter()
    assert ours.single_stream_expected_latency_ns == 250_000
    assert ours.multi_stream_expected_latency_ns == 8_000_000


def test_log_settings_defaults() -> None:
    log_settings = lg.LogSettings()
    output = log_settings.log_output
    assert {n: getattr(output, n) for n in OFFICIAL_LOG_OUTPUT_DEFAULTS} == (
        OFFICIAL_LOG_OUTPUT_DEFAULTS
    )
    assert log_settings.log_mode is lg.LoggingMode.AsyncPoll
    assert log_settings.enable_trace is False  # deliberate: the official default is True


# ---------------------------------------------------------------- FromConfig


def test_from_config_applies_mlperf_conf_then_user_conf(tmp_path: Path) -> None:
    conf = tmp_path / "user.conf"
    conf.write_text("*.Server.target_qps = 123\nmy-model.*.min_duration = 2000\n")
    settings = lg.TestSettings()
    assert settings.FromConfig(str(conf), "my-model", "Server") == 0
    assert settings.server_target_qps == 123.0
    assert settings.min_duration_ms == 2000  # user.conf beats mlperf.conf's 600000
    assert settings.qsl_rng_seed == OFFICIAL_QSL_RNG_SEED  # from the shipped mlperf.conf
    assert settings.schedule_rng_seed == OFFICIAL_SCHEDULE_RNG_SEED
    assert settings.server_target_latency_ns == 10_000_000  # *.Server.target_latency = 10
    assert settings.scenario is lg.TestScenario.SingleStream  # FromConfig leaves it alone


def test_from_config_typo_raises_one_line_error_naming_file_and_line(tmp_path: Path) -> None:
    conf = tmp_path / "user.conf"
    conf.write_text("# comment\n*.Server.target_qps = 100\n*.*.min_duraton = 100\n")
    settings = lg.TestSettings()
    with pytest.raises(ConfigError) as info:
        settings.FromConfig(str(conf), "my-model", "Server")
    message = str(info.value)
    assert message.startswith(f"{conf}:3: ")
    assert "min_duraton" in message
    assert "min_duration" in message  # the nearest valid key
    assert "\n" not in message
    assert (info.value.path, info.value.line_no) == (str(conf), 3)


# ---------------------------------------------------------------- runs (in this process)


def _qsl(total: int = 16, performance: int | None = None) -> int:
    return lg.ConstructQSL(total, performance or total, lambda _: None, lambda _: None)


def _log_settings(outdir: Path) -> lg.LogSettings:
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(outdir)
    return log_settings


def _settings(scenario: str, mode: str = "PerformanceOnly", **values: Any) -> lg.TestSettings:
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario[scenario]
    settings.mode = lg.TestMode[mode]
    for name, value in values.items():
        setattr(settings, name, value)
    return settings


def _run(sut: int, qsl: int, settings: lg.TestSettings, outdir: Path) -> Any:
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, _log_settings(outdir))
    finally:
        lg.DestroyQSL(qsl)
    result = lg.last_result()
    assert result is not None
    assert result.error is None, result.error
    return result


def _payload(index: int) -> bytes:
    return bytes((index * 7 + k) % 256 for k in range(12))


def test_response_address_and_size_are_copied_at_completion(tmp_path: Path) -> None:
    """Accuracy mode copies ``size`` bytes at ``data`` when QuerySamplesComplete is
    called; the buffer may be reused right after, as official harnesses do."""

    def issue(samples: list[lg.QuerySample]) -> None:
        buffers = [array.array("B", _payload(s.index)) for s in samples]
        responses = [
            lg.QuerySampleResponse(s.id, *buf.buffer_info())
            for s, buf in zip(samples, buffers, strict=True)
        ]
        lg.QuerySamplesComplete(responses)
        for buf in buffers:  # overwrite: the log must still hold the original bytes
            for k in range(len(buf)):
                buf[k] = 0

    sut = lg.ConstructSUT(issue, lambda: None)
    _run(sut, _qsl(16, 8), _settings("SingleStream", "AccuracyOnly"), tmp_path)
    lg.DestroySUT(sut)
    entries = read_accuracy_log(tmp_path / "mlperf_log_accuracy.json")
    assert sorted(e.qsl_idx for e in entries) == list(range(16))
    assert all(e.data == _payload(e.qsl_idx) for e in entries)


def test_response_cb_runs_before_completion(tmp_path: Path) -> None:
    seen: list[int] = []
    issued: list[int] = []

    def issue(samples: list[lg.QuerySample]) -> None:
        issued.extend(s.id for s in samples)
        responses = [lg.QuerySampleResponse(s.id, 0, 0) for s in samples]
        lg.QuerySamplesComplete(responses, lambda r: seen.append(r.id))

    sut = lg.ConstructSUT(issue, lambda: None)
    _run(sut, _qsl(8), _settings("Offline", "AccuracyOnly"), tmp_path)
    lg.DestroySUT(sut)
    assert len(issued) == 8  # ids are opaque handles, as officially
    assert sorted(seen) == sorted(issued)


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_fast_sut_gets_id_and_index_lists(tmp_path: Path, scenario: str) -> None:
    calls: list[tuple[list[int], list[int]]] = []

    def fast_issue(ids: list[int], indices: list[int]) -> None:
        calls.append((ids, indices))
        lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])

    sut = lg.ConstructFastSUT(fast_issue, lambda: None)
    settings = _settings(
        scenario,
        min_duration_ms=50,
        min_query_count=100,
        offline_expected_qps=10_000.0,
        single_stream_expected_latency_ns=10_000,
    )
    result = _run(sut, _qsl(64), settings, tmp_path)
    lg.DestroyFastSUT(sut)
    assert result.effective.scenario.value == scenario
    answered = sum(len(ids) for ids, _ in calls)
    assert answered == result.result.sample_count > 0  # every issued sample came back
    ids, indices = calls[0]
    assert type(ids) is list and type(indices) is list
    assert all(type(i) is int for i in ids + indices)
    assert len(ids) == len(indices) and set(indices) <= set(range(64))
    assert read_detail(tmp_path / "mlperf_log_detail.txt")["sut_name"] == "PyFastSUT"


def test_first_token_and_token_counts_give_ttft_and_tpot(tmp_path: Path) -> None:
    """Server with token latencies: first token at once, 10 more tokens after >= 1 ms."""
    n_tokens = 11
    keep: list[array.array[int]] = []

    def answer(sample: lg.QuerySample) -> None:
        first = array.array("B", b"\x01\x00")
        lg.FirstTokenComplete([lg.QuerySampleResponse(sample.id, *first.buffer_info())])
        time.sleep(0.001)
        tokens = array.array("B", bytes(2 * n_tokens))
        address, size = tokens.buffer_info()
        keep.append(tokens)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(sample.id, address, size, n_tokens)])

    def issue(samples: list[lg.QuerySample]) -> None:
        for s in samples:
            threading.Thread(target=answer, args=(s,)).start()

    sut = lg.ConstructSUT(issue, lambda: None)
    settings = _settings(
        "Server",
        server_target_qps=500.0,
        min_duration_ms=100,
        min_query_count=60,
        use_token_latencies=True,
        ttft_latency=2_000_000_000,
        tpot_latency=200_000_000,
    )
    result = _run(sut, _qsl(32), settings, tmp_path)
    lg.DestroySUT(sut)
    tokens = result.result.tokens
    assert tokens is not None and tokens.ttft is not None and tokens.tpot is not None
    assert tokens.total_tokens == n_tokens * result.result.sample_count
    # TPOT = (latency - TTFT) / (n_tokens - 1) and the gap is >= 1 ms
    assert tokens.tpot.min_ns >= 1_000_000 // (n_tokens - 1)
    assert tokens.ttft.percentiles[0.5] < result.result.sample_latency.percentiles[0.5]
    detail = read_detail(tmp_path / "mlperf_log_detail.txt")
    assert detail["requested_use_token_latencies"] is True
    ttft_p99, tpot_p99 = tokens.ttft.percentiles[0.99], tokens.tpot.percentiles[0.99]
    assert detail["result_first_token_99.00_percentile_latency_ns"] == ttft_p99
    assert detail["result_time_per_output_token_99.00_percentile_ns"] == tpot_p99
    assert "result_completed_tokens_per_second" in detail
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "TTFT Early Stopping Result:" in summary
    assert "TPOT Early Stopping Result:" in summary
    assert "ttft_latency (ns): 2000000000" in summary


def _token_run(tmp_path: Path, first_token: bool, n_tokens: int) -> dict[str, Any]:
    def issue(samples: list[lg.QuerySample]) -> None:
        if first_token:
            lg.FirstTokenComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0, n_tokens) for s in samples])

    sut = lg.ConstructSUT(issue, lambda: None)
    settings = _settings(
        "Server",
        server_target_qps=500.0,
        min_duration_ms=40,
        min_query_count=20,
        use_token_latencies=True,
    )
    _run(sut, _qsl(16), settings, tmp_path)
    lg.DestroySUT(sut)
    return read_detail(tmp_path / "mlperf_log_detail.txt")


def test_missing_first_token_is_an_error_as_officially(tmp_path: Path) -> None:
    detail = _token_run(tmp_path, first_token=False, n_tokens=5)
    assert detail["result_first_token_min_latency_ns"] >= 0
    assert detail["num_errors"] == detail["result_query_count"]
    assert detail["error_runtime"] == (
        "Attempted to record a sample latency before it's first token latency"
    )


def test_token_count_of_one_is_an_error_as_officially(tmp_path: Path) -> None:
    detail = _token_run(tmp_path, first_token=True, n_tokens=1)
    assert detail["num_errors"] == detail["result_query_count"]
    assert detail["error_runtime"] == "Number of tokens need to be greater than 1"


def test_audit_config_in_the_working_directory_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TEST04's audit.config: every query uses the same sample."""
    monkeypatch.chdir(tmp_path)
    Path("audit.config").write_text(
        "*.*.performance_issue_same = 1\n*.*.performance_issue_same_index = 3\n"
    )
    indices: list[int] = []

    def issue(samples: list[lg.QuerySample]) -> None:
        indices.extend(s.index for s in samples)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    sut = lg.ConstructSUT(issue, lambda: None)
    settings = _settings("SingleStream", min_duration_ms=20, min_query_count=64)
    lg.StartTest(sut, _qsl(32), settings)  # default log settings: the working directory
    lg.DestroySUT(sut)
    assert len(indices) >= 64
    assert len(set(indices)) == 1  # element 3 of the loaded set, every time
    assert Path("mlperf_log_summary.txt").is_file()


def test_offline_issue_cb_gets_a_list_like_query(tmp_path: Path) -> None:
    """Large queries arrive as a lazy list (8 bytes a sample) that still sorts in place."""
    kinds: list[bool] = []

    def issue(samples: list[lg.QuerySample]) -> None:
        kinds.append(isinstance(samples, MutableSequence))
        samples.sort(key=lambda s: s.index)  # as BERT/LLM reference harnesses do
        assert [s.index for s in samples[:3]] == sorted(s.index for s in samples)[:3]
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    sut = lg.ConstructSUT(issue, lambda: None)
    settings = _settings("Offline", min_duration_ms=0, min_query_count=5000)
    lg.StartTestWithLogSettings(sut, _qsl(100), settings, _log_settings(tmp_path))
    lg.DestroySUT(sut)
    assert kinds == [True]
    result = lg.last_result()
    assert result is not None and result.error is None


# ---------------------------------------------------------------- pickling


def test_query_sample_pickles() -> None:
    sample = lg.QuerySample(7, 3)
    assert pickle.loads(pickle.dumps(sample)) == sample


def test_query_sample_response_pickles_with_its_bytes() -> None:
    """Pointer-style data is pickled as the bytes it points to (official: unpickling
    raises, so responses cannot cross a multiprocessing queue)."""
    buf = array.array("B", b"abcdef")
    address, size = buf.buffer_info()
    response = lg.QuerySampleResponse(42, address, size, 3)
    clone = pickle.loads(pickle.dumps(response))
    assert (clone.id, clone.size, clone.n_tokens) == (42, 6, 3)
    assert clone.payload() == b"abcdef"
    plain = pickle.loads(pickle.dumps(lg.QuerySampleResponse(1, b"xyz", 3)))
    assert plain.payload() == b"xyz"


@needs_official
def test_official_query_sample_response_does_not_unpickle() -> None:
    """The official bug we do not copy: the size check is ``!= 3 || != 4``."""
    official = _official()
    data = pickle.dumps(official.QuerySampleResponse(1, 0, 0))
    with pytest.raises(RuntimeError, match="Invalid state"):
        pickle.loads(data)


def test_no_argument_constructors_as_officially() -> None:
    sample = lg.QuerySample()  # type: ignore[call-arg]
    response = lg.QuerySampleResponse()  # type: ignore[call-arg]
    assert (sample.id, sample.index, response.id, response.size) == (0, 0, 0, 0)
