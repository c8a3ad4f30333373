"""MLPerf BERT features: question + a window of the paragraph, 384 tokens, stride 128.

A port of the reference ``convert_examples_to_features`` (google-research/bert, as used
by MLPerf's SQuAD preprocessing): the question is cut to 64 WordPiece tokens, the
paragraph's words are split into WordPieces and covered by windows that start every 128
tokens, and each context token remembers its word and whether this window gives it the
most context. Each feature is one loadgen sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmeter.workloads.language._squad import Example

MAX_SEQ = 384
DOC_STRIDE = 128
MAX_QUERY = 64


@dataclass(frozen=True)
class Feature:
    """One model input: ``ids`` is (3, 384) int64 (input ids, input mask, segment ids)."""

    example: int  # index of its Example
    ids: np.ndarray
    word: np.ndarray  # (384,) int32: word index of each context token, -1 elsewhere
    max_context: np.ndarray  # (384,) bool: this window is the token's best context


class SquadFeatures:
    """The features of a list of examples, as a ``Dataset`` (one sample per feature)."""

    def __init__(self, name: str, examples: Sequence[Example], tokenizer: Any) -> None:
        self._name = name
        self.examples = list(examples)
        self.features = convert(self.examples, tokenizer)

    @property
    def name(self) -> str:
        """The QSL name."""
        return self._name

    def __len__(self) -> int:
        return len(self.features)

    def get(self, index: int) -> np.ndarray:
        """The (3, 384) int64 model input of feature ``index``."""
        return self.features[index].ids

    def label(self, index: int) -> tuple[str, ...]:
        """The answer texts of the feature's question."""
        return self.examples[self.features[index].example].answers


def convert(examples: Sequence[Example], tokenizer: Any) -> list[Feature]:
    """Every feature of ``examples``, in example order."""
    pieces: dict[tuple[str, ...], list[list[int]]] = {}
    out: list[Feature] = []
    for index, ex in enumerate(examples):
        if ex.doc_tokens not in pieces:  # paragraphs repeat once per question
            pieces[ex.doc_tokens] = _wordpieces(tokenizer, ex.doc_tokens)
        query = _wordpieces(tokenizer, [ex.question])[0][:MAX_QUERY]
        out.extend(_features(index, query, pieces[ex.doc_tokens], tokenizer))
    return out


def _wordpieces(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    if not texts:
        return []
    ids: list[list[int]] = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return ids


def _features(
    index: int, query: list[int], words: list[list[int]], tokenizer: Any
) -> list[Feature]:
    doc = [t for w in words for t in w]
    word_of = np.array([i for i, w in enumerate(words) for _ in w], dtype=np.int32)
    spans = doc_spans(len(doc), MAX_SEQ - len(query) - 3, DOC_STRIDE)
    best_span = max_context_spans(spans, len(doc))
    head = [int(tokenizer.cls_token_id), *query, int(tokenizer.sep_token_id)]
    out = []
    for k, (start, length) in enumerate(spans):
        seq = [*head, *doc[start : start + length], head[-1]]
        ids = np.zeros((3, MAX_SEQ), dtype=np.int64)
        ids[0, : len(seq)] = seq
        ids[1, : len(seq)] = 1
        ids[2, len(head) : len(seq)] = 1
        word = np.full(MAX_SEQ, -1, dtype=np.int32)
        best = np.zeros(MAX_SEQ, dtype=bool)
        ctx = slice(len(head), len(head) + length)
        word[ctx] = word_of[start : start + length]
        best[ctx] = best_span[start : start + length] == k
        out.append(Feature(index, ids, word, best))
    return out


def doc_spans(n: int, max_len: int, stride: int) -> list[tuple[int, int]]:
    """(start, length) windows over ``n`` tokens, each at most ``max_len`` long."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n:
        length = min(n - start, max_len)
        spans.append((start, length))
        if start + length == n:
            break
        start += min(length, stride)
    return spans


def max_context_spans(spans: list[tuple[int, int]], n: int) -> np.ndarray:
    """For each of ``n`` tokens, the window that gives it the most context on both sides.

    The score is ``min(left, right) + 0.01 * window length``; the first best window wins.
    """
    pos = np.arange(n)
    best_score = np.full(n, -1.0)
    best = np.full(n, -1, dtype=np.int64)
    for k, (start, length) in enumerate(spans):
        end = start + length - 1
        score = np.minimum(pos - start, end - pos) + 0.01 * length
        better = (pos >= start) & (pos <= end) & (score > best_score)
        best_score[better] = score[better]
        best[better] = k
    return best
