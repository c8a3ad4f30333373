"""Round rules as typed data: shipped rounds, inheritance, validation errors, the dev round."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from mlmeter.errors import ConfigError, SettingsError, UsageError
from mlmeter.rules import Accuracy, available_rounds, latest_official, load_round
from mlmeter.settings import (
    OFFICIAL_QSL_RNG_SEED,
    OFFICIAL_SAMPLE_INDEX_RNG_SEED,
    OFFICIAL_SCHEDULE_RNG_SEED,
    Scenario,
)
from mlmeter.workloads import get, names

BASE = """\
[round]
official = true
min_duration_ms = 600000

[seeds]
qsl_rng_seed = 1
sample_index_rng_seed = 2
schedule_rng_seed = 3

[files]
performance = ["a.txt"]
accuracy = ["b.txt"]
scenario = ["c.txt"]

[system]
required_fields = ["division"]

[benchmarks.resnet50]
category = "both"
datacenter = ["Server", "Offline"]
edge = ["SingleStream", "Offline"]
performance_sample_count = 1024
server_latency_ms = 15
min_query_count = { Offline = 24576, Server = 459 }
accuracy = { metric = "acc", regex = '^acc=([\\d.]+)', reference = 76.46, fraction = 0.99 }

[benchmarks.bert-99]
category = "datacenter"
datacenter = ["Offline"]
edge = []
performance_sample_count = 10833
accuracy = { metric = "F1", regex = '^F1=([\\d.]+)', reference = 90.874, fraction = 0.99 }

[training.resnet]
runs = 5
target = 0.759
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_round_loads() -> None:
    rounds = available_rounds()
    assert {"5.1", "6.0", "dev"} <= set(rounds)
    assert rounds[-1] == "dev"  # official rounds first, in version order
    for name in rounds:
        r = load_round(name)
        assert r.name == name and r.benchmarks and r.system_fields
    assert latest_official() == "6.0"


def test_official_seeds_are_the_ones_mlmeter_runs_with() -> None:
    for name in available_rounds():
        seeds = load_round(name).seeds
        assert seeds.qsl_rng_seed == OFFICIAL_QSL_RNG_SEED
        assert seeds.sample_index_rng_seed == OFFICIAL_SAMPLE_INDEX_RNG_SEED
        assert seeds.schedule_rng_seed == OFFICIAL_SCHEDULE_RNG_SEED


def test_6_0_states_only_changes_and_inherits_the_rest() -> None:
    base, new = load_round("5.1"), load_round("6.0")
    assert new.inherits == "5.1" and new.official
    assert new.benchmarks == base.benchmarks
    assert {"retinanet", "rgat"} <= set(base.training)
    assert not {"retinanet", "rgat"} & set(new.training)  # removed in 6.0
    assert {"gpt_oss_20b", "deepseekv3_671b"} <= set(new.training)
    text = Path(new.source).read_text()
    assert "[benchmarks." not in text and "[seeds]" not in text  # changes only


def test_dev_relaxes_run_lengths_only() -> None:
    dev, official = load_round("dev"), load_round(latest_official())
    assert not dev.official and "not for submission" in Path(dev.source).read_text().lower()
    assert dev.inherits == official.name
    assert dev.min_duration_ms < official.min_duration_ms
    assert dev.seeds == official.seeds
    assert dev.files == official.files and dev.system_fields == official.system_fields
    for name, bench in official.benchmarks.items():
        relaxed = dev.benchmarks[name]
        assert relaxed.accuracy == bench.accuracy
        assert (relaxed.server_latency_ms, relaxed.ttft_ms, relaxed.tpot_ms) == (
            bench.server_latency_ms,
            bench.ttft_ms,
            bench.tpot_ms,
        )
        assert relaxed.early_stopping == bench.early_stopping
        assert relaxed.datacenter == bench.datacenter and relaxed.edge == bench.edge
    for name, rule in official.training.items():
        assert dev.training[name] == rule


def test_dev_accepts_every_workloads_ci_run_length() -> None:
    dev = load_round("dev")
    for name in names():
        workload = get(name)
        model = workload.mlperf_model
        bench = dev.benchmark(model) or dev.benchmark(f"{model}-99")
        assert bench is not None, f"{name}: no benchmark {model} in the dev round"
        for scenario in Scenario:
            defaults = workload.defaults(scenario)
            assert defaults["min_duration_ms"] >= dev.min_duration_ms
            need = bench.min_query_count.get(str(scenario.value), 1)
            assert defaults.get("min_query_count", 1) >= need


def test_dev_knows_what_mlmeter_train_writes() -> None:
    dev = load_round("dev")
    for benchmark in ("resnet", "bert", "dlrm_dcnv2", "llama2_70b_lora"):
        assert benchmark in dev.training


def test_inherits_merges_tables_key_by_key(tmp_path: Path) -> None:
    _write(tmp_path, "base", BASE)
    child = _write(
        tmp_path,
        "child",
        '[round]\ninherits = "base"\nmin_duration_ms = 1000\n'
        "[benchmarks.resnet50]\nserver_latency_ms = 20\n"
        "[benchmarks.resnet50.min_query_count]\nOffline = 1\n",
    )
    r = load_round(child)
    base = load_round(tmp_path / "base.toml")
    assert r.name == "child" and r.inherits == "base"
    assert r.min_duration_ms == 1000 and not r.official  # 'official' is not inherited
    bench = r.benchmarks["resnet50"]
    assert bench.server_latency_ms == 20
    assert dict(bench.min_query_count) == {"Offline": 1, "Server": 459}  # merged, not replaced
    assert bench.accuracy == base.benchmarks["resnet50"].accuracy
    assert r.benchmarks["bert-99"] == base.benchmarks["bert-99"]
    assert r.seeds == base.seeds and r.training == base.training


def test_a_round_can_remove_benchmarks(tmp_path: Path) -> None:
    _write(tmp_path, "base", BASE)
    child = _write(
        tmp_path,
        "child",
        '[round]\ninherits = "base"\nremove_benchmarks = ["bert-99"]\n'
        'remove_training = ["resnet"]\n',
    )
    r = load_round(child)
    assert set(r.benchmarks) == {"resnet50"} and not r.training


def test_grandchild_inherits_through_the_chain(tmp_path: Path) -> None:
    _write(tmp_path, "base", BASE)
    _write(tmp_path, "mid", '[round]\ninherits = "base"\nmin_duration_ms = 5000\n')
    leaf = _write(tmp_path, "leaf", '[round]\ninherits = "mid"\n[seeds]\nqsl_rng_seed = 9\n')
    r = load_round(leaf)
    assert r.min_duration_ms == 5000
    assert (r.seeds.qsl_rng_seed, r.seeds.sample_index_rng_seed) == (9, 2)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("[round]\nminimum_duration = 5\n", "round.minimum_duration"),
        ("[benchmarks.resnet50]\nlatency_ms = 5\n", "benchmarks.resnet50.latency_ms"),
        ("fraction = 0.99 }", "benchmarks.resnet50.accuracy.target"),
        ("[bogus]\nx = 1\n", "bogus"),
    ],
)
def test_unknown_keys_are_refused_with_file_and_line(tmp_path: Path, extra: str, key: str) -> None:
    path = _write(tmp_path, "bad", _merge_text(BASE, extra))
    with pytest.raises(ConfigError) as info:
        load_round(path)
    message = str(info.value)
    assert "\n" not in message
    assert f"unknown key '{key}'" in message
    line = int(re.match(rf"{re.escape(str(path))}:(\d+):", message).group(1))  # type: ignore[union-attr]
    assert key.split(".")[-1] in path.read_text().splitlines()[line - 1]


def _merge_text(base: str, extra: str) -> str:
    """``extra``'s keys inserted under their table header in ``base`` (or appended)."""
    if extra.startswith("fraction"):  # inside the first inline accuracy table
        return base.replace(extra, extra.replace(" }", ", target = 5 }"), 1)
    header, _, body = extra.partition("\n")
    if header in base:
        return base.replace(header + "\n", header + "\n" + body, 1)
    return base + "\n" + extra


def test_wrong_kind_of_value_names_the_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "bad", BASE.replace("server_latency_ms = 15", 'server_latency_ms = "15"')
    )
    with pytest.raises(
        ConfigError, match=r"'benchmarks.resnet50.server_latency_ms' must be a number"
    ):
        load_round(path)


def test_invalid_values_are_refused_by_the_schema(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", BASE.replace('category = "both"', 'category = "cloud"'))
    with pytest.raises(SettingsError, match=r"benchmarks.resnet50.category"):
        load_round(path)
    path = _write(tmp_path, "bad2", BASE.replace('"Server", "Offline"]', '"Serverr"]', 1))
    with pytest.raises(SettingsError, match=r"unknown scenario"):
        load_round(path)
    with pytest.raises(SettingsError, match="needs one group"):
        Accuracy("acc", "^acc=.*", 76.46, 0.99)


def test_missing_keys_are_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad", BASE.replace("performance_sample_count = 1024\n", ""))
    with pytest.raises(
        ConfigError, match=r"missing key\(s\) benchmarks.resnet50.performance_sample"
    ):
        load_round(path)


def test_inheritance_cycles_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "a", BASE.replace("[round]\n", '[round]\ninherits = "b"\n'))
    _write(tmp_path, "b", '[round]\ninherits = "a"\n')
    with pytest.raises(ConfigError, match=r"cycle: a -> b -> a"):
        load_round(tmp_path / "a.toml")


def test_unknown_round_and_broken_toml(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"unknown round '4\.2'.*dev"):
        load_round("4.2")
    path = _write(tmp_path, "broken", "[round\nofficial = true\n")
    with pytest.raises(ConfigError, match=r"broken\.toml:1: not valid TOML"):
        load_round(path)
    with pytest.raises(UsageError, match="round file not found"):
        load_round(tmp_path / "missing.toml")


def test_rules_are_frozen_and_toml_cannot_run_code(tmp_path: Path) -> None:
    r = load_round("dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.min_duration_ms = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.benchmarks["resnet50"].min_query_count["Offline"] = 5  # type: ignore[index]
    text = BASE.replace("min_duration_ms = 600000", "min_duration_ms = \"__import__('os')\"")
    with pytest.raises(ConfigError, match="must be an integer"):
        load_round(_write(tmp_path, "code", text))


def test_required_scenarios_follow_the_system_category() -> None:
    bench = load_round("6.0").benchmarks["resnet50"]
    assert bench.required_scenarios("datacenter") == ("Server", "Offline")
    assert bench.required_scenarios("edge") == ("SingleStream", "MultiStream", "Offline")
    assert bench.required_scenarios("datacenter,edge") == (
        "Server",
        "Offline",
        "SingleStream",
        "MultiStream",
    )
    assert load_round("6.0").benchmarks["dlrm-v2-99"].required_scenarios("edge") == ()
