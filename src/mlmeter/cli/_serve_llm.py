"""``mlmeter serve llm``: SmolLM2-135M-Instruct behind an OpenAI-compatible streaming API.

Prints ``serving llm at http://HOST:PORT/v1`` as soon as it listens, loads the model
(about 16 s, untimed; ``GET /ready`` answers 503 until then, 200 after), then prints
``llm ready: ...``. Greedy decoding, one request at a time. Options (``--set KEY=VALUE``):
``default_max_tokens=256`` (when a request gives no ``max_tokens``). ``--threads`` sets
torch's intra-op threads, ``--device`` cpu or cuda.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from mlmeter.errors import UsageError
from mlmeter.suts._openai_server import openai_app
from mlmeter.suts._uvicorn import base_url, bind, serve_forever
from mlmeter.workloads._smollm2_server import SmolLM2Source


def serve(args: argparse.Namespace) -> int:
    """Serve SmolLM2 until interrupted; exit code 3 when the model fails to load."""
    _check_flags(args)
    source = SmolLM2Source(
        threads=args.threads, device=args.device, default_max_tokens=_options(args.set)
    )
    source.check()
    sock = bind(args.host, args.port)
    url = base_url(sock) + "/v1"
    failed: list[BaseException] = []

    def started(stop: Callable[[], None]) -> None:
        print(f"serving llm at {url} (loading {source.model}; /ready answers 200 once loaded)",
              flush=True)  # fmt: skip
        source.load().add_done_callback(lambda f: _loaded(f, stop, failed))

    try:
        serve_forever(openai_app(source), sock, started)
    finally:
        source.close()
    if failed:
        print(f"error: SmolLM2 failed to load: {failed[0]}", file=sys.stderr, flush=True)
        return 3
    return 0


def _loaded(future: Future[float], stop: Callable[[], None], failed: list[BaseException]) -> None:
    error = future.exception()
    if error is None:
        print(f"llm ready: {future.result():.1f} s to load", flush=True)
    else:
        failed.append(error)
        stop()


def _check_flags(args: argparse.Namespace) -> None:
    if args.batch_size != 1 or args.instances != 1:
        raise UsageError("serve llm serves one request at a time: drop --batch-size/--instances")
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device here; use --device cpu")
    elif args.device != "cpu":
        raise UsageError(f"--device {args.device}: use cpu or cuda")


def _options(items: Sequence[str]) -> int:
    """``default_max_tokens`` from ``--set`` (the only llm option)."""
    default_max_tokens = 256
    for item in items:
        key, _, value = item.partition("=")
        if key.strip() != "default_max_tokens":
            raise UsageError(f"unknown llm option {key.strip()!r}; known: default_max_tokens")
        if not value.strip().isdigit() or int(value) < 1:
            raise UsageError(f"llm option default_max_tokens={value}: give an integer >= 1")
        default_max_tokens = int(value)
    return default_max_tokens
