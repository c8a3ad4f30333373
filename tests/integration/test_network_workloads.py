"""The network division for more workloads: ``mlmeter run WORKLOAD --sut URL`` against the
workload's own ``serving()`` behind an in-process ``InferenceServer`` scores exactly
what a local run scores, and a short Server run over the network is VALID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _network_helpers import accuracy_net_and_local, run, serve

from mlmeter.workloads import WorkloadOptions


@pytest.fixture(scope="module")
def recommendation() -> Iterator[str]:
    """``mlmeter serve recommendation`` (onnxruntime, one thread) on a free port."""
    with serve("recommendation", WorkloadOptions(backend="onnxruntime")) as url:
        yield url


@pytest.fixture(scope="module")
def language() -> Iterator[str]:
    """``mlmeter serve language`` (the MiniLM stand-in on onnxruntime) on a free port."""
    with serve("language", WorkloadOptions(backend="onnxruntime")) as url:
        yield url


def test_recommendation_accuracy_over_the_network_equals_local(
    recommendation: str, tmp_path: Path
) -> None:
    (net_auc, net_data), (local_auc, local_data) = accuracy_net_and_local(
        "recommendation", recommendation, tmp_path
    )
    assert net_auc.startswith("AUC = ") and net_auc == local_auc
    assert len(net_data) == 4096 and net_data == local_data  # the same bytes per sample


def test_recommendation_server_over_the_network_is_valid(
    recommendation: str, tmp_path: Path
) -> None:
    code = run("recommendation", tmp_path, "--sut", recommendation, "--scenario", "Server")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert code == 0, summary
    assert "Result is : VALID" in summary
    assert "SUT name : Network SUT (mini-DLRM on onnxruntime)" in summary
    assert json.loads((tmp_path / "network.json").read_text())["failures"] == {}


def test_language_accuracy_over_the_network_equals_local(language: str, tmp_path: Path) -> None:
    (net_f1, net_data), (local_f1, local_data) = accuracy_net_and_local(
        "language", language, tmp_path
    )
    assert net_f1.startswith("F1 = ") and net_f1 == local_f1
    assert len(net_data) > 0 and net_data == local_data


def test_language_server_over_the_network_has_no_failures(language: str, tmp_path: Path) -> None:
    # 16 queries: too few for early stopping at p99 (INVALID, as locally), but each one
    # must come back from the server
    run("language", tmp_path, "--sut", language, "--scenario", "Server")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "SUT name : Network SUT (MiniLM-L6 stand-in on onnxruntime)" in summary
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["failures"] == {} and net["endpoints"][0]["samples"] == 16
