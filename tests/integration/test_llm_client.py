"""The OpenAI streaming client SUT and the llm workload against real servers on loopback.

Two servers: the fake token server (``mlmeter serve fake-llm``'s app: TTFT 50 ms, 10 ms
per token, injectable faults) for fidelity and faults, and a raw socket server defined
here that writes exact bytes (one byte per write, multi-token and usage-only chunks).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("uvicorn")

from mlmeter.cli.main import main
from mlmeter.errors import UsageError
from mlmeter.loadgen import LogSettings, TestResult, start_test
from mlmeter.settings import Scenario, TestSettings
from mlmeter.stats import NOT_SET
from mlmeter.suts._fake_llm import FakeTokenSource, parse_options
from mlmeter.suts._openai_server import ServerThread, openai_app
from mlmeter.workloads import WorkloadOptions
from mlmeter.workloads.llm import LlmPrepared, LlmReport, LlmWorkload
from mlmeter.workloads.llm._prompts import load_prompts

pytestmark = pytest.mark.timeout(30)
TTFT_MS, TPOT_MS, TOKENS = 50.0, 10.0, 8


@contextmanager
def fake_server(*options: str) -> Iterator[str]:
    """The fake token server; yields its /v1 URL."""
    opts = [f"ttft_ms={TTFT_MS}", f"tpot_ms={TPOT_MS}", *options]
    with ServerThread(openai_app(FakeTokenSource(parse_options(opts)))) as url:
        yield url + "/v1"


def run_llm(
    endpoint: str, scenario: Scenario, tmp: Path, settings: dict[str, Any], **options: Any
) -> tuple[TestResult, LlmReport, LlmPrepared]:
    """One loadgen run of the llm workload; returns the result and the LLM report."""
    workload = LlmWorkload()
    extra = {"endpoint": endpoint, "max_tokens": TOKENS, "calibrate": 0, **options}
    prep = workload.prepare(WorkloadOptions(extra=extra))
    assert isinstance(prep, LlmPrepared)
    fields = {**workload.defaults(scenario), "min_query_count": 16, **settings}
    try:
        result = start_test(
            prep.sut, prep.qsl, TestSettings(scenario=scenario, **fields), LogSettings(outdir=tmp)
        )
        report = prep.after_run(result, tmp)
    finally:
        prep.close()
    return result, report, prep


SERVER_1S = {"min_duration_ms": 1000, "server_target_qps": 25.0}


def test_fidelity_ttft_tpot_within_5_percent_and_summary_lines(tmp_path: Path) -> None:
    with fake_server() as url:
        result, report, _ = run_llm(url, Scenario.SERVER, tmp_path, SERVER_1S)
    assert result.error is None and report.valid
    m = report.metrics
    assert m["ttft"]["p50_ms"] == pytest.approx(TTFT_MS, rel=0.05)
    assert m["tpot"]["p50_ms"] == pytest.approx(TPOT_MS, rel=0.05)
    assert m["itl"]["p50_ms"] == pytest.approx(TPOT_MS, rel=0.05)
    assert m["itl"]["count"] == m["requests"]["issued"] * (TOKENS - 1)
    assert m["goodput"]["value"] == 1.0  # MLPerf bounds: 2 s and 200 ms
    assert m["token_counts"]["disagreements"] == 0
    assert m["token_counts"]["server_total"] == TOKENS * m["requests"]["issued"]
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "50.00 percentile first token latency (ns)" in summary
    assert "50.00 percentile time to output token (ns)" in summary
    saved = json.loads((tmp_path / "llm_metrics.json").read_text())
    assert saved["format"] == "mlmeter-llm-metrics" and saved["goodput"] == m["goodput"]


def test_goodput_with_tight_bounds_matches_the_loadgen_record(tmp_path: Path) -> None:
    bound = int(TTFT_MS * 1e6)
    tight = {**SERVER_1S, "server_ttft_latency": bound}
    with fake_server("ttft_dist=uniform", "ttft_jitter_ms=30") as url:
        result, report, _ = run_llm(url, Scenario.SERVER, tmp_path, tight)
    rec = result.record
    assert rec is not None
    ns = rec.samples_issued
    first, sched = rec.first_token_ns[:ns], rec.scheduled_ns[: rec.queries_issued]
    assert bool(np.all(first != NOT_SET))
    expected = float(np.mean(first - sched <= bound))
    g = report.metrics["goodput"]
    assert 0.0 < g["value"] < 1.0
    assert g["value"] == pytest.approx(expected)


@pytest.mark.parametrize("scenario", [Scenario.SERVER, Scenario.SINGLE_STREAM])
def test_injected_faults_are_counted_by_reason_and_the_run_is_invalid(
    tmp_path: Path, scenario: Scenario
) -> None:
    faults = ["fault=http500:every=6", "fault=malformed:every=7", "fault=cut:every=11"]
    settings = {**SERVER_1S, "single_stream_expected_latency_ns": 100_000_000}
    start = time.monotonic()
    with fake_server(*faults, "cut_after=2", "malformed_after=1") as url:
        result, report, _ = run_llm(url, scenario, tmp_path, settings)
    assert time.monotonic() - start < 15
    n = report.metrics["requests"]["issued"]
    expected: dict[str, int] = {}
    for k in range(1, n + 1):  # the server's precedence: 500, then malformed (1st token), cut
        reason = next((r for d, r in _RULES if k % d == 0), None)
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    assert report.metrics["faults"] == dict(sorted(expected.items(), key=lambda kv: -kv[1]))
    assert not report.valid and report.metrics["valid"] is False
    assert f"{sum(expected.values())} request(s) failed" in report.problems[0]
    assert "http_500: " in report.problems[0] and "stream_cut: " in report.problems[0]
    assert result.error is None  # every sample was answered: nothing hung
    assert (tmp_path / "mlperf_log_summary.txt").is_file()


_RULES = ((6, "http_500"), (7, "malformed_chunk"), (11, "stream_cut"))


def test_refused_connection_is_counted_and_ends_on_time(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    _result, report, _ = run_llm(
        f"http://127.0.0.1:{port}/v1", Scenario.SERVER, tmp_path, SERVER_1S, model="m"
    )
    assert time.monotonic() - start < 10
    n = report.metrics["requests"]["issued"]
    assert n > 0 and report.metrics["faults"] == {"connection_refused": n}
    assert report.metrics["goodput"]["value"] == 0.0 and not report.valid


def test_request_timeout_is_a_fault(tmp_path: Path) -> None:
    faults = ("fault=slow_start:every=4", "slow_start_ms=1500")
    start = time.monotonic()
    with fake_server(*faults) as url:
        _, report, _ = run_llm(url, Scenario.SERVER, tmp_path, SERVER_1S, timeout_s=0.3)
    assert time.monotonic() - start < 10
    n = report.metrics["requests"]["issued"]
    assert report.metrics["faults"] == {"timeout": n // 4}


def test_offline_fixed_concurrency_measures_from_dispatch(tmp_path: Path) -> None:
    settings = {"min_duration_ms": 100, "min_query_count": 24, "offline_expected_qps": 1.0}
    with fake_server() as url:
        _, report, _prep = run_llm(url, Scenario.OFFLINE, tmp_path, settings, concurrency=4)
    m = report.metrics
    assert m["latency_origin"] == "dispatched" and m["requests"]["issued"] == 24
    assert m["ttft"]["p50_ms"] == pytest.approx(TTFT_MS, rel=0.1)
    assert m["concurrency"] == 4 and report.valid


def test_max_in_flight_respects_concurrency(tmp_path: Path) -> None:
    settings = {"min_duration_ms": 100, "min_query_count": 24, "offline_expected_qps": 1.0}
    with fake_server() as url:
        workload = LlmWorkload()
        prep = workload.prepare(
            WorkloadOptions(
                extra={"endpoint": url, "max_tokens": 4, "concurrency": 3, "calibrate": 0}
            )
        )
        start_test(
            prep.sut,
            prep.qsl,
            TestSettings(
                scenario=Scenario.OFFLINE, **{**workload.defaults(Scenario.OFFLINE), **settings}
            ),
            LogSettings(outdir=tmp_path),
        )
        streams = prep.sut.take_streams()
        prep.close()
    events = sorted([(s.dispatched, 1) for s in streams] + [(s.end, -1) for s in streams])
    peak = max(np.cumsum([e for _, e in events]))
    assert peak == 3


def test_worker_processes_merge_exactly_and_calibrate(tmp_path: Path) -> None:
    with fake_server("fault=http500:every=5") as url:
        _, report, _ = run_llm(
            url, Scenario.SERVER, tmp_path, SERVER_1S, workers=2, concurrency=8, calibrate=1
        )
    m = report.metrics
    n = m["requests"]["issued"]
    assert m["workers"] == 2 and m["faults"] == {"http_500": n // 5}
    assert m["ttft"]["p50_ms"] == pytest.approx(TTFT_MS, rel=0.05)
    assert m["itl"]["count"] == (n - n // 5) * (TOKENS - 1)  # every worker's raw gaps
    cal = m["calibration"]
    assert cal["workers"] == 2 and cal["requests_per_s"] > 0 and cal["failed"] == 0
    assert any(line.startswith("  client     : ceiling") for line in report.lines)


# -- a raw server: exact bytes on the wire ------------------------------------------------


class RawServer:
    """Answers every POST with ``body`` (bytes), written ``step`` bytes at a time."""

    def __init__(self, body: bytes, step: int = 1) -> None:
        self.body, self.step = body, step
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        self._ready.wait(5)
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)
        self._loop.close()

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n")
        writer.write(b"Connection: close\r\n\r\n")
        for i in range(0, len(self.body), self.step):
            writer.write(self.body[i : i + self.step])
            await writer.drain()
        writer.close()
        await writer.wait_closed()


def _sse(*objects: Any) -> bytes:
    return b"".join(
        b"data: " + (o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n\n"
        for o in objects
    )


CHAT_STREAM = _sse(
    {"choices": [{"delta": {"role": "assistant"}}]},
    {"choices": [{"delta": {"content": "a"}}]},
    {"choices": [{"delta": {"content": "bc"}, "logprobs": {"content": [{}, {}]}}]},
    {"choices": [{"delta": {"content": ""}}]},
    {"choices": [{"delta": {"content": "d"}}]},
    {"choices": [], "usage": {"completion_tokens": 5}},
    b"[DONE]",
)


def test_wire_details_byte_by_byte(tmp_path: Path) -> None:
    settings = {"single_stream_expected_latency_ns": 5_000_000, "min_duration_ms": 100}
    with RawServer(CHAT_STREAM) as url:
        _, report, _ = run_llm(url, Scenario.SINGLE_STREAM, tmp_path, settings, model="m")
    m = report.metrics
    assert report.valid, report.problems
    assert m["itl"]["count"] == m["requests"]["issued"] * 3  # "bc" counts 2, "" none
    tc = m["token_counts"]  # the server says 5, the chunks say 4: reported
    assert tc["disagreements"] == tc["compared"] == m["requests"]["issued"]
    assert tc["examples"][0] == {"index": tc["examples"][0]["index"], "server": 5, "client": 4}


def test_stream_without_done_is_a_cut(tmp_path: Path) -> None:
    settings = {"single_stream_expected_latency_ns": 5_000_000, "min_duration_ms": 100}
    body = CHAT_STREAM[: CHAT_STREAM.index(b"data: [DONE]")]
    with RawServer(body, step=4096) as url:
        _, report, _ = run_llm(url, Scenario.SINGLE_STREAM, tmp_path, settings, model="m")
    assert report.metrics["faults"] == {"stream_cut": report.metrics["requests"]["issued"]}


# -- the command line and the prompt sets ------------------------------------------------


def test_cli_run_llm_writes_token_summary(tmp_path: Path) -> None:
    with fake_server() as url:
        code = main(
            ["run", "llm", "--endpoint", url, "--scenario", "Server", "--quiet", "--output",
             str(tmp_path), "--set", "min_duration=1000", "--set", "target_qps=25", "--set",
             "min_query_count=32"]
        )  # fmt: skip
    assert code == 1  # 32 queries are too few for token early stopping at p99
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "Network SUT" in summary and "first token latency (ns)" in summary


def test_cli_without_endpoint_names_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "llm", "--scenario", "Server"]) == 2
    assert "--endpoint" in capsys.readouterr().err


def test_unreachable_endpoint_is_one_line_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["run", "llm", "--endpoint", f"http://127.0.0.1:{port}/v1", "--output", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: LLM endpoint") and "not reachable" in err and "\n" not in err
    assert not (tmp_path / "mlperf_log_summary.txt").exists()


def test_bad_option_is_a_one_line_usage_error() -> None:
    with pytest.raises(UsageError, match="api=chat or api=completions"):
        LlmWorkload().prepare(WorkloadOptions(extra={"endpoint": "http://x/v1", "api": "x"}))
    with pytest.raises(UsageError, match="KEY=VALUE"):
        LlmWorkload().prepare(
            WorkloadOptions(extra={"endpoint": "http://x/v1", "options": ["max_tokenz=3"]})
        )


def test_prompt_layouts(tmp_path: Path) -> None:
    lines = [
        {"id": "1", "system_prompt": "Be brief.", "question": "Why is the sky blue?"},
        {"id": "2", "system_prompt": "", "question": "2+2?", "response": "4"},
        {"input": "<s>[INST] formatted [/INST]"},
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
        {"conversations": [{"from": "system", "value": "sys"}, {"from": "human", "value": "q"}]},
        {"prompt": "plain"},
        {"messages": [{"role": "user", "content": "m"}]},
    ]
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    prompts = load_prompts(path).prompts
    assert [len(p.messages) for p in prompts] == [2, 1, 1, 1, 2, 1, 1]
    assert prompts[0].text == "Be brief.\n\nWhy is the sky blue?"
    assert prompts[4].messages[0] == {"role": "system", "content": "sys"}
    path.write_text('{"conversations": [{"from": "gpt", "value": "x"}]}\n')
    with pytest.raises(UsageError, match=r"p.jsonl:1: no prompt"):
        load_prompts(path)


def test_completions_api_against_the_fake_server(tmp_path: Path) -> None:
    settings = {"single_stream_expected_latency_ns": 50_000_000, "min_duration_ms": 200}
    with fake_server("tokens_per_chunk=2") as url:
        _, report, _ = run_llm(url, Scenario.SINGLE_STREAM, tmp_path, settings, api="completions")
    m = report.metrics
    assert report.valid and m["api"] == "completions"
    assert m["token_counts"]["server_total"] == TOKENS * m["requests"]["issued"]
