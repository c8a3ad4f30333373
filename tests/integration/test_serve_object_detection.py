"""``mlmeter run object-detection --sut URL`` against the workload's own ``serving()``
behind an in-process ``InferenceServer``: the images cross the wire as uint8 HxWx3
arrays of several shapes, the detections come back as the bytes a local run logs, and
the mAP is the local run's, sample for sample."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pycocotools")
pytest.importorskip("skimage")
if __import__("importlib").util.find_spec("facenet_pytorch") is None:
    pytest.skip("facenet-pytorch is not installed", allow_module_level=True)

from _network_helpers import accuracy_net_and_local, run, serve  # noqa: E402

from mlmeter.workloads import WorkloadOptions, get  # noqa: E402

NAME = "object-detection"
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """What ``mlmeter serve object-detection`` runs (MTCNN, one thread), on a free port."""
    with serve(NAME, WorkloadOptions(backend="torch")) as served:
        yield served


def test_accuracy_over_the_network_equals_local(url: str, tmp_path: Path) -> None:
    (net_map, net_data), (local_map, local_data) = accuracy_net_and_local(NAME, url, tmp_path)
    assert net_map.startswith("mAP = ") and net_map == local_map
    images = get(NAME).prepare_data(WorkloadOptions(backend="torch")).qsl.total_sample_count
    assert len(net_data) == images and net_data == local_data  # the same bytes per image
    assert "" in net_data.values()  # images without faces: empty payloads cross too


def test_server_over_the_network_has_no_failures(url: str, tmp_path: Path) -> None:
    # 16 queries: too few for early stopping at p99 (INVALID, as locally), but each one
    # must come back from the server
    run(NAME, tmp_path, "--sut", url, "--scenario", "Server", "--set", "min_query_count=16")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "SUT name : Network SUT (MTCNN on torch)" in summary
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["failures"] == {} and net["endpoints"][0]["samples"] == 16
    system = json.loads((tmp_path / "system.json").read_text())
    assert system["is_network"] is True
