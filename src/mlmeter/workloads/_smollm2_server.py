"""SmolLM2-135M-Instruct as a token source for the OpenAI-compatible server (``serve llm``).

Greedy decoding with a KV cache: one prefill of the prompt, then one forward pass per
token, each token streamed as soon as it is chosen (``temperature`` and other sampling
fields are ignored). The model runs in one worker thread, never on the event loop; requests
are served one at a time, in arrival order (no batching). A chat request is formatted with
the tokenizer's chat template; token counts come from the real tokenizer. Every generated
token is one ``Piece`` (its text may be empty: a special token under ``ignore_eos``, or
the first bytes of a character that the next token completes), so the number of streamed
chunks equals ``usage.completion_tokens``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.suts._openai_server import Generation, GenerationRequest, Piece, RequestError
from mlmeter.workloads._smollm2 import load_base, new_causal_lm, verified_gguf_path

MODEL_ID = "SmolLM2-135M-Instruct"
_END = object()  # the worker's last message


@dataclass(frozen=True)
class _Loaded:
    model: Any  # LlamaForCausalLM, eval mode
    tokenizer: Any
    stop_ids: frozenset[int]
    context: int
    device: str


class SmolLM2Source:
    """A ``TokenSource`` decoding SmolLM2-135M greedily in one worker thread."""

    model = MODEL_ID

    def __init__(self, *, threads: int = 1, device: str = "cpu", default_max_tokens: int = 256):
        self.device = device
        self.default_max_tokens = default_max_tokens
        self._worker = ThreadPoolExecutor(1, "smollm2", _set_threads, (threads,))
        self._lock = asyncio.Lock()  # one request at a time, in arrival order
        self._loaded: _Loaded | None = None
        self._state = "not loaded"
        self._stops: set[threading.Event] = set()

    @staticmethod
    def check() -> None:
        """Fail fast (``UsageError``) when the model file or transformers is missing."""
        verified_gguf_path()
        try:
            import transformers  # noqa: F401
        except ImportError:
            raise UsageError("serve llm needs transformers: install mlmeter[workloads]") from None

    def load(self) -> Future[float]:
        """Start loading in the worker thread; the future gives the seconds it took."""
        self._state = "loading"
        return self._worker.submit(self._load)

    def _load(self) -> float:
        start = time.perf_counter()
        try:
            self._loaded = _load_model(self.device)
        except Exception as exc:
            self._state = f"load failed: {exc}"
            raise
        self._state = "ready"
        return time.perf_counter() - start

    def ready(self) -> tuple[bool, str]:
        """Ready once the model is loaded."""
        return self._loaded is not None, self._state

    def close(self) -> None:
        """Stop any generation and the worker thread."""
        for stop in list(self._stops):
            stop.set()
        self._worker.shutdown(wait=True, cancel_futures=True)

    async def open(self, request: GenerationRequest) -> Generation:
        """Tokenize and check the prompt; the tokens come from the returned generation."""
        loaded = self._loaded
        if loaded is None:
            raise RequestError(f"the model is {self._state}")
        ids = _prompt_ids(loaded.tokenizer, request)
        budget = request.max_tokens or self.default_max_tokens
        budget = min(budget, loaded.context - len(ids)) if request.max_tokens is None else budget
        if len(ids) + budget > loaded.context:
            limit = loaded.context
            raise RequestError(
                f"{len(ids)} prompt + {budget} new tokens exceed the {limit}-token context"
            )
        generation: Generation

        def finish(reason: str) -> None:
            generation.finish_reason = reason

        pieces = self._pieces(loaded, ids, budget, request.ignore_eos, finish)
        generation = Generation(len(ids), pieces)
        return generation

    async def _pieces(
        self,
        loaded: _Loaded,
        ids: list[int],
        budget: int,
        ignore_eos: bool,
        finish: Callable[[str], None],
    ) -> AsyncGenerator[Piece, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        async with self._lock:
            self._stops.add(stop)
            job = _Job(loaded, ids, budget, ignore_eos, emit, stop)
            done = loop.run_in_executor(self._worker, job.run)
            try:
                while (item := await queue.get()) is not _END:
                    yield Piece(str(item))
                finish(await done)
            finally:
                stop.set()
                self._stops.discard(stop)
                await asyncio.wait([done])  # the worker is free before the next request


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _load_model(device: str) -> _Loaded:
    """Load SmolLM2, move it to ``device`` and warm it up."""
    import torch

    base = load_base()
    model = new_causal_lm(base).eval().to(device)
    tokenizer = base.tokenizer
    stop_ids = frozenset(
        int(t) for t in (tokenizer.eos_token_id, base.config.eos_token_id) if t is not None
    )
    with torch.inference_mode():
        model(input_ids=torch.tensor([[1, 2]], device=device), use_cache=True, logits_to_keep=1)
    context = int(base.config.max_position_embeddings)
    return _Loaded(model, tokenizer, stop_ids, context, device)


def _prompt_ids(tokenizer: Any, request: GenerationRequest) -> list[int]:
    if request.chat:
        messages = [{"role": role, "content": content} for role, content in request.messages]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return list(tokenizer.encode(text, add_special_tokens=False))
    if isinstance(request.prompt, tuple):
        if any(not 0 <= t < len(tokenizer) for t in request.prompt):
            raise RequestError(f"token ids must be in [0, {len(tokenizer)})")
        return list(request.prompt)
    ids = list(tokenizer.encode(request.prompt, add_special_tokens=False))
    if not ids:
        raise RequestError("the prompt is empty")
    return ids


@dataclass
class _Job:
    """One greedy decode, run in the worker thread; sends each token's text to ``emit``."""

    loaded: _Loaded
    ids: list[int]
    budget: int
    ignore_eos: bool
    emit: Callable[[object], None]
    stop: threading.Event

    def run(self) -> str:
        """Decode; the finish reason ("stop" at end-of-sequence, else "length")."""
        import torch

        try:
            with torch.inference_mode():
                return self._decode(torch)
        finally:
            self.emit(_END)

    def _decode(self, torch: Any) -> str:
        model, device = self.loaded.model, self.loaded.device
        out = model(
            input_ids=torch.tensor([self.ids], device=device), use_cache=True, logits_to_keep=1
        )
        text = _Detokenizer(self.loaded.tokenizer)
        for step in range(self.budget):
            token = int(out.logits[0, -1].argmax())
            if token in self.loaded.stop_ids and not self.ignore_eos:
                return "stop"
            self.emit(text.add(token))
            if self.stop.is_set() or step + 1 == self.budget:
                break
            step_ids = torch.tensor([[token]], device=device)
            out = model(input_ids=step_ids, cache=out.cache, use_cache=True)
        return "length"


class _Detokenizer:
    """Turns generated ids into text deltas, holding back an incomplete UTF-8 character."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.text = ""

    def add(self, token: int) -> str:
        """The text this token adds (maybe empty)."""
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        delta, self.text = text[len(self.text) :], text
        return str(delta)
