"""Find-peak on the llm workload, against a fake token server of known capacity.

With ``max_streams=S`` the fake server streams at most S answers at once and queues the
rest, so it serves at most ``S / (ttft + (n - 1) tpot)`` requests per second; beyond that
the queue grows and the time to first token (measured from the scheduled send) with it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("uvicorn")

import aiohttp

from mlmeter.loadgen import LogSettings, start_test
from mlmeter.settings import Scenario, TestMode, TestSettings
from mlmeter.suts._fake_llm import FakeTokenSource, parse_options
from mlmeter.suts._openai_server import ServerThread, openai_app
from mlmeter.workloads import WorkloadOptions
from mlmeter.workloads.llm import LlmPrepared, LlmWorkload

pytestmark = pytest.mark.timeout(60)
TTFT_MS, TPOT_MS, TOKENS, STREAMS = 20.0, 2.0, 8, 4


def _server(streams: int) -> ServerThread:
    opts = [f"ttft_ms={TTFT_MS}", f"tpot_ms={TPOT_MS}", f"max_streams={streams}"]
    return ServerThread(openai_app(FakeTokenSource(parse_options(opts))))


async def _first_token_times(url: str, n: int) -> list[float]:
    """Send ``n`` streaming requests at once; seconds from the send to each first chunk."""
    body = {"model": "fake-llm", "prompt": "hi", "max_tokens": 2, "stream": True}

    async def one(session: aiohttp.ClientSession) -> float:
        start = time.monotonic()
        async with session.post(f"{url}/v1/completions", json=body) as resp:
            await resp.content.readline()
            first = time.monotonic() - start
            await resp.read()
        return first

    async with aiohttp.ClientSession() as session:
        return sorted(await asyncio.gather(*(one(session) for _ in range(n))))


def test_max_streams_queues_the_answers_beyond_it() -> None:
    with _server(1) as url:
        firsts = asyncio.run(_first_token_times(url, 3))
    answer = (TTFT_MS + TPOT_MS) / 1000  # one slot: each answer waits for the one before
    for k, first in enumerate(firsts):
        assert first == pytest.approx(TTFT_MS / 1000 + k * answer, abs=0.008)


def test_find_peak_lands_at_the_servers_capacity(tmp_path: Path) -> None:
    capacity = STREAMS / ((TTFT_MS + (TOKENS - 1) * TPOT_MS) / 1000)  # requests per second
    workload = LlmWorkload()
    with _server(STREAMS) as url:
        extra = {"endpoint": url + "/v1", "max_tokens": TOKENS, "calibrate": 0}
        prep = workload.prepare(WorkloadOptions(extra=extra))
        assert isinstance(prep, LlmPrepared)
        settings = TestSettings(
            scenario=Scenario.SERVER,
            mode=TestMode.FIND_PEAK_PERFORMANCE,
            **{
                **workload.defaults(Scenario.SERVER),
                "server_target_qps": capacity / 6,
                "server_ttft_latency": 100_000_000,  # 5x the unloaded TTFT
                "min_duration_ms": 1000,
                "min_query_count": 64,
                "server_find_peak_qps_decimals_of_precision": 0,
            },
        )
        try:
            result = start_test(prep.sut, prep.qsl, settings, LogSettings(outdir=tmp_path))
        finally:
            prep.close()
    rungs = sorted(p.name for p in (tmp_path / "find_peak").iterdir())
    peak = result.effective.target_qps
    assert len(rungs) >= 4  # doubling until a rung fails, then bisection
    assert 0.6 * capacity <= peak <= 1.4 * capacity, (peak, capacity, rungs)
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert "first token latency (ns)" in summary
    assert f"{peak:g}" in summary or f"{peak:.1f}" in summary or str(round(peak)) in summary
