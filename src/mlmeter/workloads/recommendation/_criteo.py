"""The Criteo click-log format: TSV rows, their preprocessing, and the data set.

A row is ``label, I1..I13, C1..C26`` separated by tabs: a 0/1 click, 13 integer
counts and 26 categorical values as 8-digit hex hashes. Any field but the label may
be empty. Preprocessing follows the MLPerf dlrm-v2 reference (torchrec's
``BinaryCriteoUtils.tsv_to_npys`` and its ``hashes``): empty fields become 0, dense
values become ``log(x + 3)``, and each categorical value is taken modulo its
embedding table's size.

The model input of one row is a single float32 vector of 13 + 26 values: the
transformed dense features, then the 26 table indices (exact as float32, since every
table has fewer than 2**24 rows). One array keeps the SUT runners single-input.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from mlmeter.errors import UsageError

DENSE = 13
SPARSE = 26
FIELDS = 1 + DENSE + SPARSE
WIDTH = DENSE + SPARSE  # model input values per row
MAX_TABLE_ROWS = 1 << 24  # table indices must stay exact in float32
_MASK = (1 << 63) - 1  # longer hashes keep their low 63 bits
_DAY = re.compile(r"^day_(\d+)(\.tsv)?(\.gz)?$")


@dataclass(frozen=True)
class RawRows:
    """Rows as parsed, before preprocessing (empty fields are 0 and flagged)."""

    labels: np.ndarray  # int8 [n]
    dense: np.ndarray  # int64 [n, 13]
    dense_missing: np.ndarray  # bool [n, 13]
    sparse: np.ndarray  # int64 [n, 26], the hex value; 0 when empty

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def preprocess(rows: RawRows, table_sizes: Sequence[int]) -> np.ndarray:
    """Model inputs ``float32 [n, 39]``: ``log(dense + 3)`` then ``sparse % table size``."""
    sizes = np.asarray(table_sizes, dtype=np.int64)
    dense = np.log(np.maximum(rows.dense, -2).astype(np.float64) + 3.0).astype(np.float32)
    ids = (rows.sparse % sizes).astype(np.float32)
    return np.ascontiguousarray(np.concatenate([dense, ids], axis=1))


def to_tsv_lines(rows: RawRows) -> Iterator[str]:
    """The rows in Criteo TSV layout (missing values as empty fields), one per line."""
    for i in range(len(rows)):
        dense = [
            "" if rows.dense_missing[i, j] else str(int(rows.dense[i, j])) for j in range(DENSE)
        ]
        sparse = ["" if v == 0 else f"{int(v):08x}" for v in rows.sparse[i]]
        yield "\t".join([str(int(rows.labels[i])), *dense, *sparse]) + "\n"


def criteo_files(path: Path) -> list[Path]:
    """The TSV file ``path``, or the ``day_<N>[.tsv][.gz]`` files in folder ``path``."""
    if not path.exists():
        raise UsageError(f"--data-dir {path} does not exist: give a Criteo TSV file or folder")
    if path.is_file():
        return [path]
    days = [(int(m.group(1)), p) for p in path.iterdir() if (m := _DAY.match(p.name))]
    if not days:
        raise UsageError(
            f"--data-dir {path} has no day_<N>.tsv files: give a Criteo TSV file or a "
            "folder of day_<N>.tsv files"
        )
    return [p for _, p in sorted(days)]


def read_criteo(paths: Sequence[Path]) -> RawRows:
    """Parse Criteo TSV files (plain or gzip) into raw rows, in file order."""
    labels: list[int] = []
    dense: list[list[int]] = []
    missing: list[list[bool]] = []
    sparse: list[list[int]] = []
    for path in paths:
        with _open(path) as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                lab, d, m, s = _parse_line(line, path, line_no)
                labels.append(lab)
                dense.append(d)
                missing.append(m)
                sparse.append(s)
    if not labels:
        raise UsageError(f"--data-dir {paths[0]}: no rows found; give a non-empty Criteo TSV")
    return RawRows(
        labels=np.asarray(labels, dtype=np.int8),
        dense=np.asarray(dense, dtype=np.int64).reshape(-1, DENSE),
        dense_missing=np.asarray(missing, dtype=bool).reshape(-1, DENSE),
        sparse=np.asarray(sparse, dtype=np.int64).reshape(-1, SPARSE),
    )


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="ascii", newline="\n")
    return path.open("r", encoding="ascii", newline="\n")


def _parse_line(
    line: str, path: Path, line_no: int
) -> tuple[int, list[int], list[bool], list[int]]:
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) != FIELDS:
        raise UsageError(
            f"{path}:{line_no}: {len(parts)} fields, expected {FIELDS} tab-separated "
            "(label, 13 integers, 26 hex categoricals)"
        )
    try:
        label = int(parts[0] or "0")
        dense = [int(v) if v else 0 for v in parts[1 : 1 + DENSE]]
        sparse = [int(v, 16) & _MASK if v else 0 for v in parts[1 + DENSE :]]
    except ValueError:
        raise UsageError(
            f"{path}:{line_no}: not a Criteo row (label 0/1, decimal integers, hex categoricals)"
        ) from None
    if label not in (0, 1):
        raise UsageError(f"{path}:{line_no}: label {parts[0]!r} is not 0 or 1")
    return label, dense, [not v for v in parts[1 : 1 + DENSE]], sparse


class CriteoDataset:
    """Preprocessed rows in memory: ``get(i)`` is one model input, ``label(i)`` its click."""

    def __init__(self, name: str, inputs: np.ndarray, labels: np.ndarray) -> None:
        if inputs.ndim != 2 or inputs.shape[1] != WIDTH or len(inputs) != len(labels):
            raise ValueError(f"inputs must be [n, {WIDTH}] with n labels")
        self._name = name
        self.inputs = inputs
        self.labels = labels

    @property
    def name(self) -> str:
        """Reported as the QSL name."""
        return self._name

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def get(self, index: int) -> np.ndarray:
        """The float32 [39] input of row ``index``."""
        row: np.ndarray = self.inputs[index]
        return row

    def label(self, index: int) -> int:
        """1 if row ``index`` was clicked."""
        return int(self.labels[index])
