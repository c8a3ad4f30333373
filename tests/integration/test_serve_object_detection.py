"""``mlmeter run object-detection --sut URL`` against the workload's own ``serving()``
behind an in-process ``InferenceServer``: the images cross the wire as uint8 HxWx3
arrays of several shapes, the detections come back as the bytes a local run logs, and
the mAP is the local run's, sample for sample."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pycocotools")
pytest.importorskip("skimage")
if __import__("importlib").util.find_spec("facenet_pytorch") is None:
    pytest.skip("facenet-pytorch is not installed", allow_module_level=True)

from mlmeter.cli.main import main  # noqa: E402
from mlmeter.suts import InferenceServer, Runner  # noqa: E402
from mlmeter.workloads import WorkloadOptions, get  # noqa: E402

NAME = "object-detection"
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """What ``mlmeter serve object-detection`` runs (MTCNN, one thread), on a free port."""
    closers: list[Any] = []
    opts = WorkloadOptions(backend="torch")

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
    net_map, net_data = _scored(net)
    local_map, local_data = _scored(local)
    assert net_map.startswith("mAP = ") and net_map == local_map
    images = get(NAME).prepare_data(WorkloadOptions(backend="torch")).qsl.total_sample_count
    assert len(net_data) == images and net_data == local_data  # the same bytes per image
    assert "" in net_data.values()  # images without faces: empty payloads cross too


def test_server_over_the_network_has_no_failures(url: str, tmp_path: Path) -> None:
    # 16 queries: too few for early stopping at p99 (INVALID, as locally), but each one
    # must come back from the server
    _run(tmp_path, "--sut", url, "--scenario", "Server", "--set", "min_query_count=16")
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "SUT name : Network SUT (MTCNN on torch)" in summary
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["failures"] == {} and net["endpoints"][0]["samples"] == 16
    system = json.loads((tmp_path / "system.json").read_text())
    assert system["is_network"] is True
