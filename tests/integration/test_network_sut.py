"""The network division on loopback: ``mlmeter serve`` on one side, ``mlmeter run --sut``
on the other.

A real server (``python -m mlmeter serve image-classification --port 0``) gives a VALID
Server run with the official logs and the network split recorded, and the same accuracy
as a local run, byte for byte. In-process stub servers (``InferenceServer`` with a
trivial runner) check load balancing, the startup check, and faults: HTTP 500, timeouts
and a vanished server are counted per reason, make the run INVALID and never hang it.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlmeter.cli.main import main
from mlmeter.loadgen import LogSettings, start_test
from mlmeter.settings import Scenario, TestMode, TestSettings
from mlmeter.suts import HttpSUT, InferenceServer, NullQSL
from mlmeter.suts._wire import WireError, decode_inputs, decode_outputs, encode_inputs

WORKLOAD = "image-classification"
SHORT_SERVER = ["--set", "min_duration=500", "--set", "min_query_count=200"]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _read_url_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The ``serving ... at URL`` line the server prints once it listens."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout_s):
            raise AssertionError(f"mlmeter serve printed nothing in {timeout_s} s")
    line = proc.stdout.readline().strip()
    assert line.startswith(f"serving {WORKLOAD} at http://127.0.0.1:"), line
    return line.rsplit(" ", 1)[1]


def _wait_ready(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _get(url + "/ready")[0] != 200:
        assert time.monotonic() < deadline, f"{url} not ready in {timeout_s} s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlmeter serve image-classification`` in a subprocess; stopped with SIGTERM."""
    log = tmp_path_factory.mktemp("serve") / "stderr.txt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("w") as err:
        cmd = [sys.executable, "-m", "mlmeter", "serve", WORKLOAD, "--port", "0"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        url = _read_url_line(proc, 60)
        _wait_ready(url, 180)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    assert code == 0, log.read_text()  # a clean shutdown on SIGTERM


def _stub(fail_every: int = 0, delay_s: float = 0.0, gate: threading.Event | None = None) -> Any:
    """An in-process server answering class 0 for every image."""

    def runner(inputs: list[Any]) -> list[bytes]:
        assert all(x.shape == (3, 224, 224) and x.dtype == np.float32 for x in inputs)
        time.sleep(delay_s)
        return [np.int32(0).tobytes()] * len(inputs)

    def load() -> tuple[list[Any], dict[str, Any]]:
        if gate is not None:
            gate.wait(10)
        return [runner], {"model": "stub", "backend": "stub"}

    info = {"workload": WORKLOAD}
    return InferenceServer(load, info=info, fail_every=fail_every)


def _run(*args: str) -> int:
    return main(["run", WORKLOAD, "--quiet", *args])


def test_serve_endpoints(served: str) -> None:
    assert _get(served + "/health")[0] == 200
    assert _get(served + "/ready") == (200, b'{"ready":true}')
    info = json.loads(_get(served + "/v1/info")[1])
    assert info["workload"] == WORKLOAD
    assert info["model"] == "EfficientNet-Lite0"
    assert (info["backend"], info["batch_size"], info["format"]) == ("onnxruntime", 1, 1)


def test_server_scenario_is_valid_with_network_split(served: str, tmp_path: Path) -> None:
    settings = ["--set", "target_qps=60", "--set", "min_query_count=460"]
    code = _run("--sut", served, "--scenario", "Server", *settings, "--output", str(tmp_path))
    assert code == 0
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "Result is : VALID" in summary
    assert f"SUT name : Network SUT (EfficientNet-Lite0 on onnxruntime) at {served}" in summary
    assert (
        '"key": "sut_name", "value": "Network SUT'
        in (tmp_path / "mlperf_log_detail.txt").read_text()
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run"]["sut_name"].startswith("Network SUT")
    assert results["system"]["is_network"] is True
    system = json.loads((tmp_path / "system.json").read_text())
    assert system["is_network"] is True
    assert system["network_endpoints"] == [served]
    assert system["network_sut"][0]["model"] == "EfficientNet-Lite0"
    net = json.loads((tmp_path / "network.json").read_text())
    assert net["endpoints"][0]["samples"] == 460
    assert net["failures"] == {}


def _accuracy(outdir: Path) -> tuple[str, dict[int, str]]:
    entries = json.loads((outdir / "mlperf_log_accuracy.json").read_text())
    top1 = next(
        line
        for line in (outdir / "accuracy.txt").read_text().splitlines()
        if line.startswith("top-1")
    )
    return top1, {e["qsl_idx"]: e["data"] for e in entries}


def test_accuracy_over_the_network_equals_local(served: str, tmp_path: Path) -> None:
    net, local = tmp_path / "net", tmp_path / "local"
    assert _run("--sut", served, "--mode", "accuracy", "--output", str(net)) == 0
    assert _run("--mode", "accuracy", "--output", str(local)) == 0
    net_top1, net_data = _accuracy(net)
    local_top1, local_data = _accuracy(local)
    assert net_top1 == local_top1
    assert len(net_data) == 48 and net_data == local_data  # the same bytes per sample


def test_two_endpoints_share_the_load(tmp_path: Path) -> None:
    with _stub() as one, _stub() as two:
        urls = [one.start(), two.start()]
        args = ["--scenario", "Server", "--set", "target_qps=400", *SHORT_SERVER]
        _run("--sut", ",".join(urls), *args, "--output", str(tmp_path))
        counts = [one.counters["samples"], two.counters["samples"]]
    net = json.loads((tmp_path / "network.json").read_text())
    assert [e["samples"] for e in net["endpoints"]] == counts
    assert sum(counts) >= 200
    assert min(counts) >= 0.3 * sum(counts)  # least outstanding, ties round robin
    system = json.loads((tmp_path / "system.json").read_text())
    assert system["network_endpoints"] == urls


def test_unreachable_endpoint_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"  # nobody listens there
    t0 = time.monotonic()
    assert _run("--sut", url) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: network SUT {url} is not reachable (connection refused)")
    assert time.monotonic() - t0 < 5  # before the data set is loaded


def test_wrong_workload_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with _stub() as stub:
        url = stub.start()
        assert main(["run", "recommendation", "--quiet", "--sut", url]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --sut {url} serves 'image-classification', not 'recommendation'\n"


def test_http_500s_make_the_run_invalid_with_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _stub(fail_every=5) as stub:
        url = stub.start()
        t0 = time.monotonic()
        args = ["--scenario", "Server", "--set", "target_qps=400", *SHORT_SERVER]
        code = _run("--sut", url, *args, "--output", str(tmp_path / "perf"))
        elapsed = time.monotonic() - t0
        faults, requests = stub.counters["injected_faults"], stub.counters["requests"]
        accuracy_code = _run("--sut", url, "--mode", "accuracy", "--output", str(tmp_path / "acc"))
        accuracy_faults = stub.counters["injected_faults"] - faults
    assert faults == requests // 5 > 0
    assert elapsed < 10  # 0.5 s of queries: failures never hold the run up
    assert code == 1
    out, err = capsys.readouterr()
    message = f"{faults} sample(s) failed in the SUT (HTTP 500: {faults})"
    assert f"INVALID because      : [sample_errors] {message}" in out
    assert "Result is : INVALID" in (tmp_path / "perf" / "mlperf_log_summary.txt").read_text()
    detail = (tmp_path / "perf" / "mlperf_log_detail.txt").read_text()
    assert f'"key": "error_runtime", "value": "{message}"' in detail
    net = json.loads((tmp_path / "perf" / "network.json").read_text())
    assert net["failures"] == {"HTTP 500": faults}
    assert len(net["failed_samples"]) == faults
    assert {f["detail"] for f in net["failed_samples"]} == {"injected fault (fail_every)"}
    assert accuracy_code == 3  # an accuracy log with holes is not scored
    assert err == (
        f"error: {accuracy_faults} sample(s) failed over the network (HTTP 500: "
        f"{accuracy_faults}): the accuracy log is incomplete; see network.json\n"
    )
    assert not (tmp_path / "acc" / "accuracy.txt").exists()


def _settings(queries: int) -> TestSettings:
    return TestSettings(
        scenario=Scenario.SERVER,
        mode=TestMode.PERFORMANCE_ONLY,
        min_duration_ms=100,
        min_query_count=queries,
        server_target_qps=100.0,
    )


def _image(index: int) -> np.ndarray:
    return np.full((3, 224, 224), index, np.float32)


def test_timeouts_and_a_vanished_server_are_counted(tmp_path: Path) -> None:
    with _stub(delay_s=0.1) as slow:
        sut = HttpSUT([slow.start()], _image, timeout_s=0.05)
        try:
            result = start_test(sut, NullQSL(64), _settings(8), LogSettings(outdir=tmp_path / "a"))
        finally:
            sut.close()
    assert result.error is None and result.result is not None
    assert "sample_errors" in [c.code for c in result.result.checks if not c.met]
    assert {f.reason for f in sut.failures} == {"timeout"}
    assert result.record is not None and not result.valid
    assert len(sut.failures) == result.record.samples_issued >= 8
    stub = _stub()
    sut = HttpSUT([stub.start()], _image)
    stub.stop()  # the server goes away after the startup check
    try:
        result = start_test(sut, NullQSL(64), _settings(40), LogSettings(outdir=tmp_path / "b"))
    finally:
        sut.close()
    assert result.error is None and not result.valid
    assert {f.reason for f in sut.failures} <= {"connection refused", "connection lost"}
    assert result.record is not None
    assert len(sut.failures) == result.record.samples_issued >= 40


def test_ready_is_503_until_the_model_is_loaded() -> None:
    gate = threading.Event()
    with _stub(gate=gate) as stub:
        url = stub.start()
        assert _get(url + "/health")[0] == 200
        assert _get(url + "/ready")[0] == 503
        assert _get(url + "/v1/infer")[0] == 405
        gate.set()
        _wait_ready(url, 10)
        assert json.loads(_get(url + "/v1/info")[1])["model"] == "stub"


@pytest.mark.parametrize(
    "arrays",
    [
        [np.arange(12, dtype=np.float32).reshape(3, 4), np.zeros((0,), np.int64)],
        [np.array(7, dtype=np.uint8), np.ones((2, 1, 3), ">f8")],
        [],
    ],
)
def test_wire_format_round_trip(arrays: list[np.ndarray]) -> None:
    decoded = decode_inputs(encode_inputs(arrays))
    assert len(decoded) == len(arrays)
    for a, b in zip(arrays, decoded, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        assert b.flags.writeable  # backends may write into their inputs
    with pytest.raises(WireError):
        decode_inputs(encode_inputs(arrays)[:-1] if arrays else b"MLMB")
    with pytest.raises(WireError, match="2 outputs for 3 inputs"):
        from mlmeter.suts._wire import encode_outputs

        decode_outputs(encode_outputs([b"a", b"bc"]), 3)
