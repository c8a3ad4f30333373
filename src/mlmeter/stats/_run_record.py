"""``RunRecord``: the raw timestamps of one run, as integer-ns numpy arrays.

The loadgen fills it; everything reported is computed from it afterwards.
All times are ns offsets from the test start (the moment the clock started).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

NOT_SET = -1  # marks a sample that was never issued or never answered


@dataclass(frozen=True)
class RunRecord:
    """What happened, per query and per sample, in issue order."""

    query_start: IntArray  # query q covers samples [query_start[q], query_start[q + 1])
    sample_index: IntArray  # QSL index per sample
    scheduled_ns: IntArray  # per query: intended send time (SS/MS: = issue time)
    issued_ns: IntArray  # per query: when issue_queries was called; NOT_SET if never
    completed_ns: IntArray  # per sample: first response time; NOT_SET if none
    first_token_ns: IntArray  # per sample: first-token time; NOT_SET if none
    n_tokens: IntArray  # per sample: token count from the response (0 if none)
    queries_issued: int
    samples_issued: int
    unknown_responses: int = 0
    duplicate_responses: int = 0
    errors: tuple[str, ...] = field(default=())

    @property
    def query_count(self) -> int:
        """Queries in the schedule (issued or not)."""
        return int(self.query_start.size - 1)

    def issued_samples_mask(self) -> npt.NDArray[np.bool_]:
        """True for samples that belong to issued queries."""
        mask = np.zeros(self.sample_index.size, dtype=bool)
        mask[: self.samples_issued] = True
        return mask

    @property
    def missing_samples(self) -> int:
        """Issued samples that never got a response."""
        done = self.completed_ns[: self.samples_issued]
        return int(np.count_nonzero(done == NOT_SET))
