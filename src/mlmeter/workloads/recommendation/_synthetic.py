"""CI data: Criteo-format rows drawn from a seeded, planted click model.

Each categorical feature has a vocabulary of random 32-bit hashes with Zipf-like
popularity and a hidden weight per value; two feature pairs interact through hidden
4-d vectors; six dense counts add a weight on ``log(x + 3)``. A row is clicked with
probability ``sigmoid(bias + sum of its terms)``. Because that probability is known,
so is the best AUC any model can reach on a sample: the AUC of the true probabilities
(the Bayes AUC). Every draw is a pure function of the seed and the split name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmeter.workloads.recommendation._criteo import DENSE, SPARSE, RawRows

# distinct values per categorical feature (Criteo-like spread, capped small)
CARDINALITIES = (
    1000, 583, 1000, 1000, 305, 24, 1000, 633, 3, 1000, 1000, 1000, 1000,
    27, 1000, 1000, 10, 1000, 1000, 4, 1000, 18, 15, 1000, 105, 1000,
)  # fmt: skip
INFORMATIVE = (0, 1, 4, 5, 7, 9, 13, 16, 19, 21, 22, 24)  # features with a strong weight
PAIRS = ((1, 7), (5, 13))  # feature pairs with a hidden interaction
DENSE_WEIGHTS = (0.5, -0.4, 0.0, 0.35, 0.0, -0.3, 0.0, 0.25, 0.0, 0.0, 0.3, 0.0, 0.0)
_SPLITS = {"train": 1, "eval": 2}
_BIAS = -1.6


@dataclass(frozen=True)
class PlantedRows:
    """Rows and the true click probability of each."""

    rows: RawRows
    probability: np.ndarray  # float64 [n]


class PlantedClickModel:
    """The hidden click model of seed ``seed``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        self.vocab = [rng.choice(1 << 32, size=c, replace=False) + 1 for c in CARDINALITIES]
        self.popularity = [_zipf(c) for c in CARDINALITIES]
        self.weights = [
            rng.normal(0.0, 0.7 if f in INFORMATIVE else 0.05, size=c) * _head(c)
            for f, c in enumerate(CARDINALITIES)
        ]
        self.latent = {
            f: rng.normal(0.0, 0.6, size=(CARDINALITIES[f], 4)) for pair in PAIRS for f in pair
        }
        self.missing_rate = rng.uniform(0.0, 0.3, size=SPARSE)
        self.dense_mu = rng.uniform(0.5, 4.0, size=DENSE)
        self.dense_missing_rate = rng.uniform(0.0, 0.4, size=DENSE)

    def draw(self, n: int, split: str) -> PlantedRows:
        """``n`` rows of ``split`` ("train" or "eval"): same seed and split, same rows."""
        rng = np.random.default_rng([self.seed, _SPLITS[split]])
        values = np.stack(
            [rng.choice(len(p), size=n, p=p) for p in self.popularity], axis=1
        )  # [n, 26] vocabulary positions
        cat_missing = rng.random((n, SPARSE)) < self.missing_rate
        dense = np.floor(np.exp(rng.normal(self.dense_mu, 1.0, size=(n, DENSE)))).astype(np.int64)
        dense[:, 1] -= 2  # one feature with the -1 / -2 values the real set has
        dense_missing = rng.random((n, DENSE)) < self.dense_missing_rate
        dense[dense_missing] = 0
        logit = _BIAS + self._cat_terms(values, cat_missing) + self._dense_terms(dense)
        prob = 1.0 / (1.0 + np.exp(-logit))
        labels = (rng.random(n) < prob).astype(np.int8)
        sparse = np.stack([self.vocab[f][values[:, f]] for f in range(SPARSE)], axis=1)
        sparse[cat_missing] = 0
        rows = RawRows(labels, dense, dense_missing, sparse.astype(np.int64))
        return PlantedRows(rows, prob)

    def _cat_terms(self, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        keep = ~missing
        total = np.zeros(len(values))
        for f in range(SPARSE):
            total += np.where(keep[:, f], self.weights[f][values[:, f]], 0.0)
        for a, b in PAIRS:
            dot = np.einsum("nk,nk->n", self.latent[a][values[:, a]], self.latent[b][values[:, b]])
            total += np.where(keep[:, a] & keep[:, b], dot, 0.0)
        return total

    def _dense_terms(self, dense: np.ndarray) -> np.ndarray:
        logs = np.log(np.maximum(dense, -2) + 3.0)
        return np.asarray((logs - self.dense_mu) @ np.asarray(DENSE_WEIGHTS))


def _head(n: int) -> np.ndarray:
    """Full weight for the 64 most popular values, a fifth of it for the rarer ones."""
    return np.where(np.arange(n) < 64, 1.0, 0.2)


def _zipf(n: int) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** 1.2
    return np.asarray(p / p.sum())
