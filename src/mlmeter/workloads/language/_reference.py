"""Measured reference values of the language workload.

On the CI data the stand-in (MiniLM + seeded head, see ``_model``) has no trained QA
head, so its quality metric is agreement with its own FP32 PyTorch answers: SQuAD F1
with ``CI_FP32_ANSWERS`` as the ground truth. FP32 PyTorch scores 100 by construction;
another backend or precision must keep 99 % of it. Regenerate the table with
``fp32_ci_answers()`` whenever the CI data, the head seed or the model changes.
"""

from __future__ import annotations

CI_REFERENCE_F1 = 100.0
MLPERF_BERT_F1 = 90.874  # MLPerf BERT-large FP32 on SQuAD v1.1 dev; the target is 99 %

CI_FP32_ANSWERS: dict[str, str] = {
    "ci-0-0": "banks of the Sella in the province of Ve",
    "ci-0-1": "banks of the Sella in the province of Ve",
    "ci-0-2": "banks of the Sella in the province of Ve",
    "ci-0-3": "banks of the Sella in the province of Ve",
    "ci-0-4": "town",
    "ci-0-5": "banks of the Sella in the province of Ve",
    "ci-1-0": "population of 8,150. The novelist Jonas Ebb described its narrow streets",
    "ci-1-1": "population of 8,150. The novelist Jonas Ebb described its narrow streets",
    "ci-1-2": "population of 8,150. The novelist Jonas Ebb described its narrow streets",
    "ci-1-3": "population of 8,150. The novelist Jonas Ebb described its narrow streets",
    "ci-1-4": "population of 8,150. The novelist Jonas Ebb described its narrow streets",
    "ci-1-5": "population of 8,150. The novelist Jonas Ebb described its narrow streets",
    "ci-2-0": "Dray in the province of Ve",
    "ci-2-1": "Dray in the province of Ve",
    "ci-2-2": "Dray in the province of Ve",
    "ci-2-3": "Dray in the province of Ve",
    "ci-2-4": "Dray in the province of Ve",
    "ci-2-5": "population of 21,900. The novelist Ida Fenwick described its narrow streets",
    "ci-3-0": "Dunmere is a market town",
    "ci-3-1": "Dunmere is a market town",
    "ci-3-2": "Dunmere is a market town",
    "ci-3-3": "Dunmere is a market town",
    "ci-3-4": "Dunmere is a market town",
    "ci-3-5": "Dunmere is a market town",
    "ci-4-0": "banks of the Wend",
    "ci-4-1": "population",
    "ci-4-2": "population",
    "ci-4-3": "town",
    "ci-4-4": "population of 16",
    "ci-4-5": "population",
    "ci-5-0": "Round",
    "ci-5-1": "Round",
    "ci-5-2": "Round",
    "ci-5-3": "Round",
    "ci-5-4": "Round",
    "ci-5-5": "Round",
    "ci-chronicle-0": (
        "fair was opened by Hedda Voss and was held every autumn "
        "until the railway came. Visitors who wrote about the town"
    ),
    "ci-chronicle-1": (
        "fair was opened by Tobias Renn and was held every autumn "
        "until the railway came. Visitors who wrote about the town"
    ),
    "ci-chronicle-2": (
        "fair was opened by Tobias Renn and was held every autumn "
        "until the railway came. Visitors who wrote about the town"
    ),
    "ci-chronicle-3": (
        "fair was opened by Hedda Voss and was held every autumn "
        "until the railway came. Visitors who wrote about the town"
    ),
    "ci-chronicle-4": (
        "fair was opened by Hedda Voss and was held every autumn "
        "until the railway came. Visitors who wrote about the town"
    ),
    "ci-chronicle-5": (
        "fair was opened by Tobias Renn and was held every autumn "
        "until the railway came. Visitors who wrote about the town"
    ),
}
