"""The official SQuAD v1.1 metrics: exact match and token F1, best over the ground truths.

A line-for-line match of ``evaluate-v1.1.py``: answers are lower-cased, punctuation and
the articles a/an/the are removed and whitespace is collapsed before comparing.
Questions without a prediction score 0; both metrics are percentages.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

_PUNCT = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower case, strip punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def f1_score(prediction: str, truth: str) -> float:
    """Token-overlap F1 between the normalised answers (0 when nothing overlaps)."""
    pred = normalize_answer(prediction).split()
    gold = normalize_answer(truth).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred)
    recall = same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, truth: str) -> float:
    """1.0 when the normalised answers are equal."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def best_over(metric: Callable[[str, str], float], prediction: str, truths: Sequence[str]) -> float:
    """The metric against the closest ground truth."""
    return max((metric(prediction, t) for t in truths), default=0.0)


def evaluate(
    truths: Mapping[str, Sequence[str]], predictions: Mapping[str, str]
) -> dict[str, float]:
    """``{"exact_match": %, "f1": %}`` over every question in ``truths``."""
    em = f1 = 0.0
    for qid, answers in truths.items():
        if qid in predictions:
            em += best_over(exact_match_score, predictions[qid], answers)
            f1 += best_over(f1_score, predictions[qid], answers)
    total = max(len(truths), 1)
    return {"exact_match": 100.0 * em / total, "f1": 100.0 * f1 / total}
