"""Score an accuracy log: each response is one float32 click probability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.logfmt import AccuracyEntry
from mlmeter.workloads import AccuracyResult, Scorer, Target
from mlmeter.workloads.recommendation._auc import roc_auc


def decode(entries: Sequence[AccuracyEntry]) -> np.ndarray:
    """The click probabilities of ``entries``, in order."""
    for e in entries:
        if len(e.data) != 4:
            raise UsageError(
                f"accuracy-log entry {e.seq_id} holds {len(e.data)} bytes: the recommendation "
                "workload answers one float32 per sample; score a log it wrote"
            )
    return np.frombuffer(b"".join(e.data for e in entries), dtype=np.float32)


def make_scorer(labels: np.ndarray, target: Target, details: dict[str, Any]) -> Scorer:
    """A scorer: the AUC of the logged probabilities against ``labels[qsl_idx]``."""

    def score(entries: Sequence[AccuracyEntry]) -> AccuracyResult:
        idx = np.fromiter((e.qsl_idx for e in entries), dtype=np.int64, count=len(entries))
        if idx.size and (idx.min() < 0 or idx.max() >= len(labels)):
            raise UsageError(
                f"the accuracy log names sample {int(idx.max())} but the data set has "
                f"{len(labels)}; score it with the --data-dir it was run on"
            )
        truth = labels[idx]
        try:
            value = roc_auc(decode(entries), truth)
        except ValueError as exc:
            raise UsageError(
                f"AUC is undefined on these {len(entries)} samples ({exc}); use data with "
                "both clicks and non-clicks"
            ) from None
        extra = {**details, "click_rate": round(float(truth.mean()), 6)}
        return AccuracyResult(target.metric, value, target, len(entries), extra)

    return score
