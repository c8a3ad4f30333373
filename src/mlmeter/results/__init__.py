"""The results store: every run and every imported tree, in SQLite (default) or PostgreSQL."""

from mlmeter.results._compare import compare
from mlmeter.results._model import KINDS, SOURCES, Delta, RunFilter, RunRow, Store
from mlmeter.results._open import default_url, open_store
from mlmeter.results._record import (
    record_run_dir,
    record_training_dir,
    rows_from_run,
    rows_from_training,
)
from mlmeter.results._tree import rows_from_tree

__all__ = [
    "KINDS",
    "SOURCES",
    "Delta",
    "RunFilter",
    "RunRow",
    "Store",
    "compare",
    "default_url",
    "open_store",
    "record_run_dir",
    "record_training_dir",
    "rows_from_run",
    "rows_from_training",
    "rows_from_tree",
]
