"""SQuAD v1.1: read ``dev-v1.1.json`` into examples split into whitespace words.

The split follows the reference BERT ``read_squad_examples`` (as MLPerf uses it): a
paragraph is cut into "doc tokens" on whitespace, and answers are word spans.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError

DEV_FILE = "dev-v1.1.json"
_FIX = "pass --data-dir with SQuAD v1.1 dev-v1.1.json"


@dataclass(frozen=True)
class Example:
    """One question on one paragraph, with its ground-truth answer texts."""

    qid: str
    question: str
    context: str
    doc_tokens: tuple[str, ...]
    answers: tuple[str, ...]


def _is_whitespace(c: str) -> bool:
    return c in " \t\r\n" or ord(c) == 0x202F


def doc_tokens(text: str) -> tuple[str, ...]:
    """Split ``text`` into whitespace-separated words (the reference ``doc_tokens``)."""
    words: list[str] = []
    prev_white = True
    for c in text:
        if _is_whitespace(c):
            prev_white = True
            continue
        if prev_white:
            words.append(c)
        else:
            words[-1] += c
        prev_white = False
    return tuple(words)


def read_squad(data_dir: Path) -> list[Example]:
    """The examples of ``data_dir/dev-v1.1.json``."""
    if not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir}: no such directory; {_FIX}")
    path = data_dir / DEV_FILE
    if not path.is_file():
        raise UsageError(f"--data-dir {data_dir}: {DEV_FILE} not found; {_FIX}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc}); {_FIX}") from None
    return parse_squad(doc, str(path))


def parse_squad(doc: Any, source: str = "SQuAD") -> list[Example]:
    """The examples of a SQuAD v1.1 document (``{"data": [{"paragraphs": [...]}]}``)."""
    examples: list[Example] = []
    try:
        for article in doc["data"]:
            for par in article["paragraphs"]:
                words = doc_tokens(par["context"])  # once per paragraph, not per question
                examples.extend(_example(qa, par["context"], words) for qa in par["qas"])
    except (KeyError, TypeError) as exc:
        what = f"no {exc} field" if isinstance(exc, KeyError) else "a field has the wrong type"
        raise UsageError(f"{source}: not in the SQuAD v1.1 layout ({what}); {_FIX}") from None
    return examples


def _example(qa: dict[str, Any], context: str, words: tuple[str, ...]) -> Example:
    answers = tuple(str(a["text"]) for a in qa["answers"])
    return Example(str(qa["id"]), str(qa["question"]), context, words, answers)


def ground_truths(examples: list[Example]) -> dict[str, tuple[str, ...]]:
    """Answer texts by question id."""
    return {ex.qid: ex.answers for ex in examples}
