"""Round rules as typed data: one small TOML per round, inheriting from the previous one.

``load_round("6.0")`` reads ``data/6.0.toml``, resolves its ``inherits`` chain and
returns a frozen, validated ``Round``; ``dev`` relaxes run lengths for local trees.
"""

from mlmeter.rules._load import available_rounds, latest_official, load_round
from mlmeter.rules._schema import (
    CATEGORIES,
    SCENARIOS,
    Accuracy,
    Benchmark,
    RequiredFiles,
    Round,
    Seeds,
    TrainingBenchmark,
)

__all__ = [
    "CATEGORIES",
    "SCENARIOS",
    "Accuracy",
    "Benchmark",
    "RequiredFiles",
    "Round",
    "Seeds",
    "TrainingBenchmark",
    "available_rounds",
    "latest_official",
    "load_round",
]
