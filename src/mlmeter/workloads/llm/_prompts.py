"""Prompt sets: JSONL files in the OpenOrca or ShareGPT layout, and a generated CI set.

One JSON object per line. Accepted layouts (the first that matches wins):

- OpenOrca (MLPerf llama2-70b): ``{"system_prompt": ..., "question": ...}``; an
  ``"input"`` field (the MLPerf pre-formatted prompt) is used as is when present.
- ShareGPT: ``{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", ...}]}``;
  the prompt is the first human turn (after a ``system`` turn, if any).
- Plain: ``{"prompt": "..."}`` or ``{"messages": [{"role": ..., "content": ...}]}``.

Each prompt keeps both forms: ``messages`` for /chat/completions and ``text`` for
/completions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError

Message = dict[str, str]


@dataclass(frozen=True)
class Prompt:
    """One prompt, as chat messages and as plain text."""

    messages: tuple[Message, ...]

    @property
    def text(self) -> str:
        """The prompt for /v1/completions: the message contents, one per paragraph."""
        return "\n\n".join(m["content"] for m in self.messages)


@dataclass(frozen=True)
class PromptSet:
    """A named list of prompts."""

    name: str
    prompts: tuple[Prompt, ...]

    def __len__(self) -> int:
        return len(self.prompts)


def load_prompts(path: Path) -> PromptSet:
    """The prompts of a ``.jsonl`` file, or of every ``.jsonl`` file in a folder."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise UsageError(f"{path}: no such JSONL file: give --data-dir a .jsonl prompt file")
    prompts = tuple(p for f in files for p in _read_file(f))
    if not prompts:
        raise UsageError(f"{path}: no prompts found: one JSON object per line")
    return PromptSet(path.stem, prompts)


def _read_file(path: Path) -> Iterator[Prompt]:
    with path.open(encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if line.strip():
                yield _parse_line(line, f"{path}:{no}")


def _parse_line(line: str, where: str) -> Prompt:
    try:
        obj = json.loads(line)
    except ValueError:
        raise UsageError(f"{where}: not JSON: one JSON object per line") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: not a JSON object")
    for parse in (_openorca, _sharegpt, _plain):
        messages = parse(obj)
        if messages:
            return Prompt(tuple(messages))
    raise UsageError(
        f"{where}: no prompt: use 'question' (OpenOrca), 'conversations' (ShareGPT), "
        "'prompt' or 'messages'"
    )


def _openorca(obj: dict[str, Any]) -> list[Message]:
    if isinstance(obj.get("input"), str) and obj["input"]:
        return [{"role": "user", "content": obj["input"]}]
    question = obj.get("question")
    if not isinstance(question, str) or not question:
        return []
    system = obj.get("system_prompt")
    head = [{"role": "system", "content": system}] if isinstance(system, str) and system else []
    return [*head, {"role": "user", "content": question}]


_SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user"}


def _sharegpt(obj: dict[str, Any]) -> list[Message]:
    turns = obj.get("conversations")
    if not isinstance(turns, list):
        return []
    out: list[Message] = []
    for turn in turns:
        role = _SHAREGPT_ROLES.get(str(turn.get("from"))) if isinstance(turn, dict) else None
        value = turn.get("value") if isinstance(turn, dict) else None
        if role is None or not isinstance(value, str):
            break
        out.append({"role": role, "content": value})
        if role == "user":
            return out
    return []


def _plain(obj: dict[str, Any]) -> list[Message]:
    prompt = obj.get("prompt")
    if isinstance(prompt, str) and prompt:
        return [{"role": "user", "content": prompt}]
    messages = obj.get("messages")
    if isinstance(messages, list) and messages and all(_is_message(m) for m in messages):
        return [{"role": m["role"], "content": m["content"]} for m in messages]
    return []


def _is_message(m: Any) -> bool:
    return (
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
    )


_TOPICS = (
    "the water cycle", "binary search", "photosynthesis", "a sourdough starter",
    "TCP congestion control", "the French revolution", "black holes", "compound interest",
    "garbage collection", "plate tectonics", "the immune system", "public-key cryptography",
)  # fmt: skip
_ASKS = (
    "Explain {} to a child.",
    "Write three short facts about {}.",
    "Summarise {} in one paragraph.",
    "What are common misconceptions about {}?",
)
_SYSTEM = "You are a helpful assistant. Answer briefly."


def generated_prompts(count: int = 64, seed: int = 0) -> PromptSet:
    """A small deterministic prompt set for CI (no files needed)."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        question = rng.choice(_ASKS).format(rng.choice(_TOPICS))
        prompts.append(Prompt(({"role": "system", "content": _SYSTEM},
                               {"role": "user", "content": question})))  # fmt: skip
    return PromptSet("generated-ci", tuple(prompts))
