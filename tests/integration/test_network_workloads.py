"""The network division for more workloads: ``mlmeter run WORKLOAD --sut URL`` against the
workload's own ``serving()`` behind an in-process ``InferenceServer`` scores exactly
what a local run scores, and a short Server run over the network is VALID."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from mlmeter.cli.main import main
from mlmeter.suts import InferenceServer, Runner
from mlmeter.workloads import WorkloadOptions, get


def _server(name: str, opts: WorkloadOptions) -> InferenceServer:
    """What ``mlmeter serve NAME`` runs, in this process."""
    closers: list[Any] = []

    def load() -> tuple[Sequence[Runner], Mapping[str, Any]]:
        served = get(name).serving(opts)
        closers.extend(served.closers)
        return served.runners, {"model": served.model}

    info = {"workload": name, "backend": opts.backend, "device": opts.device}
    return InferenceServer(load, info=info)


@pytest.fixture(scope="module")
def recommendation() -> Iterator[str]:
    """``mlmeter serve recommendation`` (onnxruntime, one thread) on a free port."""
    with _server("recommendation", WorkloadOptions(backend="onnxruntime")) as server:
        yield server.start()


@pytest.fixture(scope="module")
def language() -> Iterator[str]:
    """``mlmeter serve language`` (the MiniLM stand-in on onnxruntime) on a free port."""
    with _server("language", WorkloadOptions(backend="onnxruntime")) as server:
        yield server.start()


def _run(name: str, outdir: Path, *args: str) -> int:
    return main(["run", name, "--quiet", "--output", str(outdir), *args])


def _scored(outdir: Path) -> tuple[str, dict[int, str]]:
    """The accuracy.txt head line and the logged bytes (hex) per sample."""
    first = (outdir / "accuracy.txt").read_text().splitlines()[0]
    entries = json.loads((outdir / "mlperf_log_accuracy.json").read_text())
    return first, {e["qsl_idx"]: e["data"] for e in entries}


def test_recommendation_accuracy_over_the_network_equals_local(
    recommendation: str, tmp_path: Path
) -> None:
    net, local = tmp_path / "net", tmp_path / "local"
    assert _run("recommendation", net, "--sut", recommendation, "--mode", "accuracy") == 0
    assert _run("recommendation", local, "--mode", "accuracy") == 0
    net_auc, net_data = _scored(net)
    local_auc, local_data = _scored(local)
    assert net_auc.startswith("AUC = ") and net_auc == local_auc
    assert len(net_data) == 4096 and net_data == local_data  # the same bytes per sample


def test_recommendation_server_over_the_network_is_valid(
    recommendation: str, tmp_path: Path
) -> None:
    code = _run("recommendation", tmp_path, "--sut", recommendation, "--scenario", "Server")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert code == 0, summary
    assert "Result is : VALID" in summary
    assert "SUT name : Network SUT (mini-DLRM on onnxruntime)" in summary
    assert json.loads((tmp_path / "network.json").read_text())["failures"] == {}


def test_language_accuracy_over_the_network_equals_local(language: str, tmp_path: Path) -> None:
    net, local = tmp_path / "net", tmp_path / "local"
    assert _run("language", net, "--sut", language, "--mode", "accuracy") == 0
    assert _run("language", local, "--mode", "accuracy") == 0
    net_f1, net_data = _scored(net)
    local_f1, local_data = _scored(local)
    assert net_f1.startswith("F1 = ") and net_f1 == local_f1
    assert len(net_data) > 0 and net_data == local_data


def test_language_server_over_the_network_has_no_failures(language: str, tmp_path: Path) -> None:
    # 16 queries: too few for early stopping at p99 (INVALID, as locally), but each one
    # must come back from the server
    _run("language", tmp_path, "--sut", language, "--scenario", "Server")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "SUT name : Network SUT (MiniLM-L6 stand-in on onnxruntime)" in summary
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["failures"] == {} and net["endpoints"][0]["samples"] == 16
