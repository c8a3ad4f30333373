"""mlperf.conf / user.conf: syntax, precedence, units, errors, the shipped file, and the
official LoadGen 6.0.17 wheel as the reference (skipped where it is not installed)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import pytest

from mlmeter.errors import ConfigError, SettingsError
from mlmeter.settings import (
    OFFICIAL_QSL_RNG_SEED,
    OFFICIAL_SAMPLE_INDEX_RNG_SEED,
    OFFICIAL_SCHEDULE_RNG_SEED,
    SHIPPED_MLPERF_CONF,
    ConfLine,
    Scenario,
    TestMode,
    TestSettings,
    apply_conf,
    known_models,
    load_test_settings,
    parse_conf,
    read_conf,
    resolve_test_settings,
)

SS, MS = Scenario.SINGLE_STREAM, Scenario.MULTI_STREAM
SERVER, OFFLINE = Scenario.SERVER, Scenario.OFFLINE


def _apply(text: str, model: str = "m", scenario: Scenario = SERVER, **kw: Any) -> TestSettings:
    source = kw.pop("source", "user")
    lines = parse_conf(text, "user.conf", source=source)
    return apply_conf(TestSettings(scenario=scenario), lines, model, scenario, source=source)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- syntax


def test_parse_keeps_settings_and_skips_comments_and_blank_lines() -> None:
    text = "# whole-line comment\n\n  resnet50.Server.target_qps = 100  # trailing\n*.*.mode = 1\n"
    assert parse_conf(text, "u.conf") == [
        ConfLine("u.conf", 3, "resnet50", SERVER, "target_qps", "100"),
        ConfLine("u.conf", 4, "*", None, "mode", "1"),
    ]


def test_model_names_may_contain_dots() -> None:
    (line,) = parse_conf("wan-2.2-t2v-a14b.*.min_query_count = 5\n")
    assert (line.model, line.scenario, line.key) == ("wan-2.2-t2v-a14b", None, "min_query_count")


def test_unknown_models_are_allowed() -> None:
    assert _apply("my-own-model.Server.target_qps = 7\n", "my-own-model").server_target_qps == 7.0


# ---------------------------------------------------------------- precedence

_FOUR_LEVELS = [
    ("m.Server.min_duration = 1", 1),
    ("*.Server.min_duration = 2", 2),
    ("m.*.min_duration = 3", 3),
    ("*.*.min_duration = 4", 4),
]


@pytest.mark.parametrize("first", range(4))
def test_precedence_model_scenario_then_any_model_then_any_scenario_then_both(first: int) -> None:
    lines = [text for text, _ in _FOUR_LEVELS[first:]]
    for order in (lines, lines[::-1]):  # the order of lines does not matter
        assert _apply("\n".join(order)).min_duration_ms == _FOUR_LEVELS[first][1]


def test_a_wildcard_model_scenario_line_beats_a_model_wildcard_scenario_line() -> None:
    text = "m.*.target_qps = 5\n*.Server.target_qps = 6\n"
    assert _apply(text).server_target_qps == 6.0


def test_other_models_and_scenarios_do_not_match() -> None:
    s = _apply("other.*.min_duration = 5\n*.Offline.min_duration = 6\n", scenario=SERVER)
    assert s.min_duration_ms == TestSettings().min_duration_ms


def test_within_one_file_the_last_duplicate_wins() -> None:
    assert _apply("*.*.min_duration = 5\n*.*.min_duration = 6\n").min_duration_ms == 6


def test_user_conf_wildcard_beats_a_specific_mlperf_conf_line(tmp_path: Path) -> None:
    mlperf = _write(tmp_path, "mlperf.conf", "m.Server.target_latency = 15\n")
    user = _write(tmp_path, "user.conf", "*.*.target_latency = 50\n")
    s = load_test_settings(model="m", scenario=SERVER, mlperf_conf=mlperf, user_conf=user)
    assert s.server_target_latency_ns == 50_000_000


def test_user_conf_overrides_the_shipped_mlperf_conf(tmp_path: Path) -> None:
    user = _write(tmp_path, "user.conf", "*.*.min_query_count = 500\n")
    s = load_test_settings(model="resnet50", scenario=OFFLINE, user_conf=user)
    assert s.min_query_count == 500  # mlperf.conf: resnet50.Offline.min_query_count = 24576


def test_set_overrides_beat_user_conf(tmp_path: Path) -> None:
    user = _write(tmp_path, "user.conf", "*.Server.target_qps = 10\n")
    s = load_test_settings(model="m", scenario=SERVER, user_conf=user, overrides=["target_qps=20"])
    assert s.server_target_qps == 20.0


# ---------------------------------------------------------------- units and sections


def test_units_ms_to_ns_and_percent_to_fraction() -> None:
    s = _apply(
        "*.SingleStream.target_latency = 2.5\n*.MultiStream.target_latency = 30\n"
        "*.Server.target_latency = 15\n*.*.target_latency_percentile = 99.9\n"
        "*.*.min_duration = 600000\n*.*.max_duration = 900000\n*.*.response_timeout = 5000\n"
    )
    assert s.single_stream_expected_latency_ns == 2_500_000
    assert s.multi_stream_expected_latency_ns == 30_000_000
    assert s.server_target_latency_ns == 15_000_000
    assert s.server_target_latency_percentile == 99.9 * 0.01  # as LoadGen computes it
    assert s.single_stream_target_latency_percentile == 99.9 * 0.01
    assert (s.min_duration_ms, s.max_duration_ms, s.response_timeout_ms) == (600000, 900000, 5000)


def test_scenario_keys_are_read_from_their_own_section_whatever_the_run() -> None:
    s = _apply("*.Server.target_qps = 3\n*.Offline.target_qps = 4\n", scenario=OFFLINE)
    assert (s.server_target_qps, s.offline_expected_qps) == (3.0, 4.0)
    s = _apply("*.*.target_qps = 9\n*.MultiStream.samples_per_query = 4\n", scenario=SS)
    assert (s.server_target_qps, s.offline_expected_qps) == (9.0, 9.0)
    assert s.multi_stream_samples_per_query == 4


def test_booleans_mode_and_counts() -> None:
    s = _apply(
        "*.*.mode = 3\n*.Server.coalesce_queries = 1\n*.Server.max_async_queries = 2\n"
        "*.*.print_timestamps = 1\n*.*.performance_sample_count_override = 0x400\n"
    )
    assert s.mode is TestMode.FIND_PEAK_PERFORMANCE
    assert s.server_coalesce_queries and s.print_timestamps
    assert (s.server_max_async_queries, s.performance_sample_count_override) == (2, 1024)


def test_token_latencies_need_use_token_latencies() -> None:
    on = _apply("m.*.use_token_latencies = 1\nm.Server.ttft_latency = 450\n*.*.tpot_latency = 40\n")
    assert (on.server_ttft_latency, on.server_tpot_latency) == (450_000_000, 40_000_000)
    off = resolve_test_settings(model="resnet50", scenario=SERVER, use_mlperf_conf=False)
    assert off.notes == ()
    lines = parse_conf("*.Server.ttft_latency = 450\n")
    s = apply_conf(TestSettings(), lines, "m", SERVER, source="user")
    assert s.server_ttft_latency == TestSettings().server_ttft_latency


def test_scaling_factor_needs_infer_token_latencies() -> None:
    assert _apply("*.*.token_latency_scaling_factor = 5\n").token_latency_scaling_factor == 0
    text = "*.*.infer_token_latencies = 1\n*.*.token_latency_scaling_factor = 5\n"
    assert _apply(text).token_latency_scaling_factor == 5


def test_mlperf_only_keys_are_read_from_mlperf_conf(tmp_path: Path) -> None:
    mlperf = _write(
        tmp_path, "mlperf.conf", "*.*.qsl_rng_seed = 7\n*.*.accuracy_log_probability = 50\n"
    )
    s = load_test_settings(model="m", scenario=SERVER, mlperf_conf=mlperf)
    assert (s.qsl_rng_seed, s.accuracy_log_probability) == (7, 0.5)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("*.*.min_duraton = 5", "unknown key 'min_duraton' (did you mean 'min_duration'?)"),
        (
            "*.server.target_qps = 5",
            "unknown scenario 'server' in '*.server.target_qps' (did you mean 'Server'?)",
        ),
        ("*.Sever.target_qps = 5", "(did you mean 'Server'?)"),
        ("*.*.min_duration = abc", "min_duration takes a whole number (ms), got 'abc'"),
        ("*.*.target_qps = fast", "target_qps takes a number, got 'fast'"),
        ("*.*.target_qps = nan", "target_qps takes a number, got 'nan'"),
        ("*.*.min_duration = -5", "min_duration must be >= 0, got -5"),
        (
            "*.*.min_duration = 2.7",
            "min_duration takes a whole number (ms), got '2.7' (LoadGen would truncate it)",
        ),
        ("*.*.min_duration = 1e3", "(LoadGen would truncate it)"),
        ("*.*.min_duration = 010", "LoadGen reads a leading 0 as octal"),
        ("*.*.target_latency_percentile = 120", "is a percentage in (0, 100), got 120"),
        ("*.*.target_latency_percentile = 0", "is a percentage in (0, 100), got 0"),
        ("*.*.target_qps = 0", "target_qps must be > 0 for Server, got 0"),
        ("*.SingleStream.target_latency = 0", "target_latency must be > 0 for SingleStream"),
        (
            "*.*.target_latency = 0.5",
            "target_latency for Server takes whole ms (LoadGen truncates 0.5)",
        ),
        ("*.*.coalesce_queries = 2", "coalesce_queries takes 0 or 1, got '2'"),
        ("*.*.mode = 7", "mode takes 0 (submission), 1 (accuracy), 2 (performance) or 3"),
        ("*.*.performance_sample_count_override = 18446744073709551616", "too large"),
        ("*.*.min_duration = 5 6", "expected one value after '=', got '5 6'"),
        ("*.*.min_duration =", "missing value after '='"),
        ("*.*.min_duration=5", "write spaces around '='"),
        ("*.*.min_duration =5", "write spaces around '='"),
        ("min_duration = 5", "write '*.*.min_duration' for every model and scenario"),
        ("resnet50.min_duration = 5", "expected a 'model.Scenario.key' name"),
        ("just words here", "expected 'model.Scenario.key = value'"),
        ("*.*.qsl_rng_seed = 1", "qsl_rng_seed is read only from mlperf.conf"),
        ("*.*.accuracy_log_probability = 1", "read only from mlperf.conf"),
        (
            "*.SingleStream.target_qps = 5",
            "LoadGen never reads target_qps for SingleStream: use it with Server and Offline",
        ),
        ("*.Offline.target_latency_percentile = 90", "never reads target_latency_percentile"),
        ("*.Server.target_duration = 0", "target_duration: remove the line"),
    ],
)
def test_bad_lines_raise_config_error_with_file_line_and_fix(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_conf(f"# header\n{text}\n", "user.conf")
    assert str(info.value).startswith("user.conf:2: ")
    assert message in str(info.value)
    assert (info.value.path, info.value.line_no) == ("user.conf", 2)


def test_the_documented_example_message() -> None:
    with pytest.raises(ConfigError, match=r"^user\.conf:3: unknown key 'min_duraton' \(did you "):
        parse_conf("\n\n*.*.min_duraton = 5\n", "user.conf")


def test_mlperf_conf_may_hold_lines_loadgen_never_reads() -> None:
    lines = parse_conf(
        "*.Server.target_duration = 0\n*.Offline.target_latency_percentile = 90\n",
        "mlperf.conf",
        source="mlperf",
    )
    assert apply_conf(TestSettings(), lines, "m", OFFLINE, source="mlperf") == TestSettings()


def test_apply_rejects_mlperf_only_lines_given_as_user_lines() -> None:
    lines = parse_conf("*.*.qsl_rng_seed = 1\n", "x.conf", source="mlperf")
    with pytest.raises(ConfigError, match=r"^x\.conf:1: qsl_rng_seed is read only"):
        apply_conf(TestSettings(), lines, "m", SERVER, source="user")


def test_read_conf_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"cannot read user\.conf .*nope\.conf"):
        read_conf(tmp_path / "nope.conf")


def test_mlperf_conf_path_with_use_mlperf_conf_off_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="drop one"):
        load_test_settings(model="m", scenario=SERVER, mlperf_conf=tmp_path, use_mlperf_conf=False)


# ---------------------------------------------------------------- the shipped mlperf.conf


def test_shipped_mlperf_conf_parses_and_names_the_benchmarks() -> None:
    lines = read_conf(SHIPPED_MLPERF_CONF, source="mlperf")
    assert len(lines) > 100
    assert {"resnet50", "bert", "llama2-70b", "gpt-oss-120b", "wan-2.2-t2v-a14b"} <= set(
        known_models()
    )
    assert "*" not in known_models()


def test_shipped_resnet50_server() -> None:
    s = load_test_settings(model="resnet50", scenario=SERVER)
    assert s.server_target_latency_ns == 15_000_000
    assert s.server_target_latency_percentile == 0.99
    assert s.performance_sample_count_override == 1024
    assert s.min_duration_ms == 600_000
    assert (s.qsl_rng_seed, s.sample_index_rng_seed, s.schedule_rng_seed) == (
        OFFICIAL_QSL_RNG_SEED,
        OFFICIAL_SAMPLE_INDEX_RNG_SEED,
        OFFICIAL_SCHEDULE_RNG_SEED,
    )


def test_shipped_llm_and_other_benchmarks() -> None:
    llama = load_test_settings(model="llama2-70b", scenario=SERVER)
    assert llama.use_token_latencies and llama.sample_concatenate_permutation
    assert (llama.server_ttft_latency, llama.server_tpot_latency) == (2_000_000_000, 200_000_000)
    assert llama.server_target_latency_ns == 0
    gptj = load_test_settings(model="gptj", scenario=OFFLINE)
    assert gptj.infer_token_latencies and gptj.token_latency_scaling_factor == 69
    assert gptj.min_query_count == 13368
    ms = load_test_settings(model="retinanet", scenario=MS)
    assert (ms.multi_stream_expected_latency_ns, ms.min_query_count) == (528_000_000, 662)
    pp = load_test_settings(model="pointpainting", scenario=SS)
    assert pp.single_stream_target_latency_percentile == 99.9 * 0.01


def test_without_mlperf_conf_the_defaults_stay() -> None:
    s = load_test_settings(model="resnet50", scenario=SERVER, use_mlperf_conf=False)
    assert s == TestSettings(scenario=SERVER)


def test_an_mlperf_conf_path_replaces_the_shipped_one(tmp_path: Path) -> None:
    mlperf = _write(tmp_path, "mlperf.conf", "*.*.min_query_count = 3\n")
    s = load_test_settings(model="resnet50", scenario=SERVER, mlperf_conf=mlperf)
    assert s.min_query_count == 3
    assert s.performance_sample_count_override == 0 and s.qsl_rng_seed == 0


# ---------------------------------------------------------------- provenance


def test_provenance_names_the_source_of_each_field(tmp_path: Path) -> None:
    user = _write(tmp_path, "user.conf", "# mine\nresnet50.Server.target_qps = 100\n")
    r = resolve_test_settings(
        model="resnet50",
        scenario=SERVER,
        mode=TestMode.ACCURACY_ONLY,
        user_conf=user,
        overrides=["min_duration=1000"],
        base=TestSettings(print_timestamps=True),
    )
    shipped = SHIPPED_MLPERF_CONF.read_text().splitlines()
    line_no = shipped.index("resnet50.Server.target_latency = 15") + 1
    assert r.source_of("server_target_latency_ns") == f"{SHIPPED_MLPERF_CONF}:{line_no}"
    assert r.source_of("server_target_qps") == f"{user}:2"
    assert r.source_of("min_duration_ms") == "--set min_duration=1000"
    assert r.source_of("mode") == r.source_of("scenario") == "argument"
    assert r.source_of("print_timestamps") == "base"
    assert r.source_of("max_query_count") == "default"
    rows = r.rows()
    assert len(rows) == len(TestSettings().as_dict())
    assert ("server_target_qps", 100.0, f"{user}:2") in rows


def test_provenance_notes_lines_without_effect(tmp_path: Path) -> None:
    user = _write(tmp_path, "user.conf", "*.Server.ttft_latency = 450\n")
    r = resolve_test_settings(model="resnet50", scenario=SERVER, user_conf=user)
    assert r.notes == (
        f"{user}:1: ttft_latency has no effect because use_token_latencies is off for "
        "'resnet50' (as in LoadGen); set resnet50.*.use_token_latencies = 1 to use it",
    )


def test_set_scenario_is_the_scenario_conf_files_are_read_for() -> None:
    r = resolve_test_settings(model="resnet50", scenario=SERVER, overrides=["scenario=Offline"])
    assert r.settings.scenario is OFFLINE and r.settings.min_query_count == 24576
    assert r.source_of("scenario") == "--set scenario=Offline"


# ---------------------------------------------------------------- the official wheel

_RENAMED = {"ttft_latency": "server_ttft_latency", "tpot_latency": "server_tpot_latency"}

_USER_CONF = """\
# a user.conf that both LoadGen and mlmeter read the same way
*.Server.target_qps = 123.5
*.Offline.target_qps = 456
*.SingleStream.target_latency = 2.5
*.MultiStream.target_latency = 30
resnet50.Server.target_latency = 20
*.*.min_query_count = 500
bert.*.performance_sample_count_override = 2000
llama2-70b.Server.ttft_latency = 1500
llama2-70b.*.tpot_latency = 150
*.*.max_duration = 900000
*.*.min_duration = 120000
*.MultiStream.samples_per_query = 4
*.*.target_latency_percentile = 97.5
*.Server.coalesce_queries = 1
*.Server.max_async_queries = 3
gptj.*.token_latency_scaling_factor = 50
mymodel.*.use_token_latencies = 1
mymodel.Server.ttft_latency = 700
*.*.mode = 1
*.Offline.print_timestamps = 1
*.*.accuracy_log_rng_seed = 42
*.*.accuracy_log_sampling_target = 10
3d-unet.*.sample_concatenate_permutation = 0
*.Server.performance_issue_unique = 1
"""


@pytest.fixture(scope="module")
def lg() -> Any:
    return pytest.importorskip("mlperf_loadgen")


def _official(lg: Any, model: str, scenario: Scenario, user_conf: Path | None) -> dict[str, Any]:
    s = lg.TestSettings()
    # conf_type 0 reads the embedded mlperf.conf; conf_type 1 reads it only on the first call
    # in a process, so read it explicitly first.
    assert s.FromConfig("", model, scenario.value, 0) == 0
    if user_conf is not None:
        assert s.FromConfig(str(user_conf), model, scenario.value, 1) == 0
    names = [n for n in dir(s) if not n.startswith("_") and n not in ("FromConfig", "scenario")]
    return {_RENAMED.get(n, n): getattr(s, n) for n in names}


def _assert_same(official: dict[str, Any], ours: TestSettings) -> None:
    mine = ours.as_dict()
    for name, value in official.items():
        value = value.name if name == "mode" else value
        if isinstance(value, float):
            assert math.isclose(mine[name], value, rel_tol=1e-15), name
        else:
            assert mine[name] == value, name


def test_defaults_match_the_official_test_settings(lg: Any) -> None:
    names = [n for n in dir(lg.TestSettings()) if not n.startswith("_") and n != "FromConfig"]
    assert len(names) == 42
    ours = TestSettings().as_dict()
    official = lg.TestSettings()
    for name in names:
        value = getattr(official, name)
        value = value.name if name in ("mode", "scenario") else value
        assert ours[_RENAMED.get(name, name)] == value, name


@pytest.mark.parametrize("scenario", list(Scenario))
def test_shipped_mlperf_conf_matches_the_official_for_every_model(
    lg: Any, scenario: Scenario
) -> None:
    for model in (*known_models(), "unknown-model"):
        ours = load_test_settings(model=model, scenario=scenario)
        _assert_same(_official(lg, model, scenario, None), ours)


@pytest.mark.parametrize(
    ("model", "scenario"),
    [
        ("resnet50", SERVER),
        ("resnet50", OFFLINE),
        ("llama2-70b", SERVER),
        ("llama2-70b", OFFLINE),
        ("gptj", OFFLINE),
        ("retinanet", MS),
        ("bert", SS),
        ("mymodel", SERVER),
        ("3d-unet", OFFLINE),
    ],
)
def test_user_conf_matches_the_official(
    lg: Any, tmp_path: Path, model: str, scenario: Scenario
) -> None:
    user = _write(tmp_path, "user.conf", _USER_CONF)
    ours = load_test_settings(model=model, scenario=scenario, user_conf=user)
    _assert_same(_official(lg, model, scenario, user), ours)


def test_shipped_file_is_the_text_embedded_in_the_official_wheel() -> None:
    spec = importlib.util.find_spec("mlperf_loadgen")
    if spec is None or spec.origin is None:
        pytest.skip("mlperf_loadgen is not installed")
    binary = Path(spec.origin).read_bytes()
    start = binary.find(b"# The format of this config file")
    embedded = binary[start : binary.index(b"\0", start)]
    shipped = SHIPPED_MLPERF_CONF.read_bytes()
    header = shipped[: len(shipped) - len(embedded)]
    assert shipped.endswith(embedded)
    assert all(line.startswith(b"#") for line in header.splitlines())
