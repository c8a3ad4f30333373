"""MLPerf submission trees: package runs into the official layout, load trees (ours, and
MLCommons' published results repositories), and check them against a round's rules.

Every check returns ``Finding`` objects (severity, code, path, message), never booleans.
"""

from mlmeter.submission._accuracy_txt import (
    MAX_ACCURACY_LOG_SIZE,
    VIEWABLE_SIZE,
    truncate_accuracy_log,
)
from mlmeter.submission._archive import MAX_BYTES, MAX_FILES, UnsafeArchive, open_tree, safe_extract
from mlmeter.submission._check import check_tree
from mlmeter.submission._findings import Finding, Findings, Severity
from mlmeter.submission._loader import load_tree
from mlmeter.submission._model import InferenceEntry, SystemDesc, TrainingEntry, Tree
from mlmeter.submission._package import Packaged, PackageResult, package

__all__ = [
    "MAX_ACCURACY_LOG_SIZE",
    "MAX_BYTES",
    "MAX_FILES",
    "VIEWABLE_SIZE",
    "Finding",
    "Findings",
    "InferenceEntry",
    "PackageResult",
    "Packaged",
    "Severity",
    "SystemDesc",
    "TrainingEntry",
    "Tree",
    "UnsafeArchive",
    "check_tree",
    "load_tree",
    "open_tree",
    "package",
    "safe_extract",
    "truncate_accuracy_log",
]
