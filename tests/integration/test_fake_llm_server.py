"""The fake token server on loopback: the OpenAI streaming wire format, exact timing, faults.

A client (aiohttp, in the test) timestamps every ``data:`` line as it arrives. The fake
server schedules token ``i`` at ``ttft + i * tpot`` from the request's arrival, so the
measured times must match the configured ones within a few milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("uvicorn")

from mlmeter.errors import UsageError  # noqa: E402
from mlmeter.suts._fake_llm import FakeTokenSource, parse_options  # noqa: E402
from mlmeter.suts._openai_server import openai_app  # noqa: E402
from mlmeter.suts._uvicorn import ServerThread  # noqa: E402

CHAT = {"messages": [{"role": "user", "content": "say something nice"}]}
TIMEOUT = aiohttp.ClientTimeout(total=10)


@contextmanager
def fake_server(*options: str) -> Iterator[str]:
    """An in-process fake server; yields its ``/v1`` URL."""
    app = openai_app(FakeTokenSource(parse_options(options)))
    with ServerThread(app) as url:
        yield url + "/v1"


@dataclass
class Stream:
    """What a client saw of one request."""

    status: int
    sent: float
    payloads: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # arrival of each payload
    cut: bool = False

    def chunks(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.payloads if p != "[DONE]"]

    def token_times(self, chat: bool) -> list[float]:
        key = "content"
        out = []
        for payload, t in zip(self.payloads, self.times, strict=True):
            if payload == "[DONE]":
                continue
            choices = json.loads(payload)["choices"]
            text = (choices[0]["delta"].get(key) if chat else choices[0]["text"]) if choices else ""
            if text:
                out.append(t)
        return out


async def _post(session: Any, url: str, body: dict[str, Any]) -> Stream:
    sent = time.perf_counter()
    async with session.post(url, json=body) as resp:
        stream = Stream(resp.status, sent)
        if resp.status != 200 or not body.get("stream"):
            stream.payloads.append(await resp.text())
            return stream
        try:
            async for line in resp.content:
                if line.startswith(b"data: "):
                    stream.times.append(time.perf_counter())
                    stream.payloads.append(line[6:].decode().strip())
        except aiohttp.ClientPayloadError:
            stream.cut = True
    return stream


def post_all(url: str, bodies: list[dict[str, Any]]) -> list[Stream]:
    """Send the requests one after another on one keep-alive connection."""

    async def main() -> list[Stream]:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            return [await _post(session, url, body) for body in bodies]

    return asyncio.run(main())


def test_chat_stream_wire_format() -> None:
    body = {**CHAT, "max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}}
    with fake_server("ttft_ms=1", "tpot_ms=1") as url:
        (stream,) = post_all(url + "/chat/completions", [body])
    assert stream.status == 200
    assert stream.payloads[-1] == "[DONE]"
    chunks = stream.chunks()
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}  # role only, no content
    texts = [c["choices"][0]["delta"]["content"] for c in chunks[1:5]]
    assert texts == ["tok1 ", "tok2 ", "tok3 ", "tok4 "]
    assert chunks[5]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "length",
    }
    assert chunks[6]["choices"] == []
    assert chunks[6]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_completion_stream_and_plain_answers() -> None:
    stream_body = {"prompt": "one two", "max_tokens": 3, "stream": True}
    plain_body = {"prompt": "one two", "max_tokens": 3}
    with fake_server("ttft_ms=0", "tpot_ms=0", "output_tokens=2") as url:
        streamed, plain = post_all(url + "/completions", [stream_body, plain_body])
        (chat,) = post_all(url + "/chat/completions", [{**CHAT, "max_tokens": 5}])
    chunks = streamed.chunks()
    assert [c["choices"][0]["text"] for c in chunks] == ["tok1 ", "tok2 ", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"  # 2 tokens < max_tokens
    assert all("usage" not in c for c in chunks)  # not asked for
    answer = json.loads(plain.payloads[0])
    assert answer["object"] == "text_completion"
    assert answer["choices"][0]["text"] == "tok1 tok2 "
    assert answer["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    message = json.loads(chat.payloads[0])["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "tok1 tok2 "}


def test_ignore_eos_and_multi_token_chunks() -> None:
    body = {"prompt": "x", "max_tokens": 7, "stream": True, "ignore_eos": True}
    with fake_server("ttft_ms=0", "tpot_ms=0", "output_tokens=2", "tokens_per_chunk=3") as url:
        (stream,) = post_all(url + "/completions", [body])
    texts = [c["choices"][0]["text"] for c in stream.chunks()]
    assert texts == ["tok1 tok2 tok3 ", "tok4 tok5 tok6 ", "tok7 ", ""]


def test_bad_requests_get_400_with_an_openai_error() -> None:
    with fake_server() as url:
        missing, bad_max = post_all(
            url + "/completions", [{"max_tokens": 2}, {"prompt": "x", "max_tokens": 0}]
        )
    for answer in (missing, bad_max):
        assert answer.status == 400
        assert json.loads(answer.payloads[0])["error"]["type"] == "invalid_request_error"


def _cli_server(*options: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "mlmeter.cli", "serve", "fake-llm", "--port", "0"]
    for option in options:
        command += ["--set", option]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once listening
    assert line.startswith("serving fake-llm at http://127.0.0.1:"), proc.stderr
    return proc, line.split()[-1]


def test_measured_ttft_and_tpot_match_the_configured_ones() -> None:
    ttft_ms, tpot_ms, n = 30.0, 8.0, 12
    proc, url = _cli_server(f"ttft_ms={ttft_ms}", f"tpot_ms={tpot_ms}")
    try:
        body = {**CHAT, "max_tokens": n, "stream": True}
        streams = post_all(url + "/chat/completions", [body] * 8)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    ttfts, tpots = [], []
    for stream in streams:
        times = stream.token_times(chat=True)
        assert len(times) == n
        ttfts.append((times[0] - stream.sent) * 1000)
        tpots.append((times[-1] - times[0]) * 1000 / (n - 1))
    assert statistics.median(ttfts) == pytest.approx(ttft_ms, abs=3.0)
    assert statistics.median(tpots) == pytest.approx(tpot_ms, abs=0.5)


def test_unknown_option_is_a_one_line_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlmeter.cli", "serve", "fake-llm", "--set", "ttft=5"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: unknown fake-llm option 'ttft'")
    for bad in ("ttft_dist=gamma", "fault=http500:2", "fault=oops:0.1", "output_tokens=5-2"):
        with pytest.raises(UsageError):
            parse_options([bad])


def test_http500_every_nth_request() -> None:
    body = {"prompt": "x", "max_tokens": 2, "stream": True}
    with fake_server("ttft_ms=0", "tpot_ms=0", "fault=http500:every=3") as url:
        streams = post_all(url + "/completions", [body] * 6)
    assert [s.status for s in streams] == [200, 200, 500, 200, 200, 500]
    error = json.loads(streams[2].payloads[0])["error"]
    assert error["type"] == "server_error" and "http500" in error["message"]


def test_fault_rate_is_seeded_and_reproducible() -> None:
    body = {"prompt": "x", "max_tokens": 1}
    runs = []
    for _ in range(2):
        with fake_server("ttft_ms=0", "tpot_ms=0", "fault=http500:0.5", "seed=7") as url:
            runs.append([s.status for s in post_all(url + "/completions", [body] * 40)])
    assert runs[0] == runs[1]
    assert 8 <= runs[0].count(500) <= 32
    with fake_server("ttft_ms=0", "tpot_ms=0", "fault=http500:0,cut:0") as url:
        assert {s.status for s in post_all(url + "/completions", [body] * 10)} == {200}


def test_cut_stream_ends_without_done() -> None:
    body = {**CHAT, "max_tokens": 5, "stream": True}
    with fake_server("ttft_ms=0", "tpot_ms=1", "fault=cut:every=2", "cut_after=2") as url:
        whole, cut, after = post_all(url + "/chat/completions", [body] * 3)
    assert not whole.cut and whole.payloads[-1] == "[DONE]"
    assert cut.cut and "[DONE]" not in cut.payloads
    assert len(cut.token_times(chat=True)) == 2  # the tokens before the cut
    assert after.payloads[-1] == "[DONE]"  # the client reconnects; the server goes on


def test_malformed_chunk_is_invalid_json() -> None:
    body = {"prompt": "x", "max_tokens": 3, "stream": True}
    with fake_server("ttft_ms=0", "tpot_ms=0", "fault=malformed:1", "malformed_after=1") as url:
        (stream,) = post_all(url + "/completions", [body])
    assert stream.payloads[-1] == "[DONE]"
    bad = []
    for payload in stream.payloads[:-1]:
        try:
            json.loads(payload)
        except ValueError:
            bad.append(payload)
    assert len(bad) == 1
    assert stream.payloads.index(bad[0]) == 1  # after the first token


def test_slow_start_adds_to_the_first_token_only() -> None:
    body = {"prompt": "x", "max_tokens": 3, "stream": True}
    options = ("ttft_ms=5", "tpot_ms=5", "fault=slow_start:every=2", "slow_start_ms=60")
    with fake_server(*options) as url:
        normal, slow = post_all(url + "/completions", [body] * 2)
    normal_ttft = (normal.token_times(chat=False)[0] - normal.sent) * 1000
    slow_times = slow.token_times(chat=False)
    slow_ttft = (slow_times[0] - slow.sent) * 1000
    assert slow_ttft - normal_ttft == pytest.approx(60, abs=10)
    assert (slow_times[-1] - slow_times[0]) * 1000 == pytest.approx(10, abs=5)
