"""Score an accuracy log: logits per feature -> answer per question -> SQuAD F1 and EM."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from mlmeter.logfmt import AccuracyEntry
from mlmeter.workloads._base import AccuracyResult, Scorer, Target
from mlmeter.workloads.language._features import MAX_SEQ, Feature, SquadFeatures
from mlmeter.workloads.language._metric import evaluate
from mlmeter.workloads.language._postprocess import ToTokens, predict


def decode(entries: Sequence[AccuracyEntry]) -> dict[int, np.ndarray]:
    """(384, 2) float32 start/end logits by sample index."""
    return {e.qsl_idx: np.frombuffer(e.data, dtype=np.float32).reshape(MAX_SEQ, 2) for e in entries}


def predictions(
    data: SquadFeatures, logits: Mapping[int, np.ndarray], to_tokens: ToTokens, lower: bool
) -> dict[str, str]:
    """The answer text of every question that has at least one scored feature."""
    by_example: dict[int, list[tuple[Feature, np.ndarray]]] = defaultdict(list)
    for index in sorted(logits):
        feature = data.features[index]
        by_example[feature.example].append((feature, logits[index]))
    return {
        data.examples[i].qid: predict(data.examples[i], pairs, to_tokens, lower)
        for i, pairs in by_example.items()
    }


def make_scorer(
    data: SquadFeatures,
    truths: Mapping[str, Sequence[str]],
    to_tokens: ToTokens,
    lower: bool,
    target: Target,
    labels: str,
) -> Scorer:
    """A scorer reporting F1 (the target metric) with exact match in the details."""

    def score(entries: Sequence[AccuracyEntry]) -> AccuracyResult:
        logits = decode(entries)
        preds = predictions(data, logits, to_tokens, lower)
        metrics = evaluate(truths, preds)
        details = {
            "exact_match": round(metrics["exact_match"], 4),
            "questions": len(truths),
            "features": len(logits),
            "labels": labels,
        }
        return AccuracyResult("F1", metrics["f1"], target, len(preds), details)

    return score
