"""``results.json``: mlmeter's own versioned record of a run.

``{"format": "mlmeter.results", "version": 1, ...}`` with the tool version, the run
header, requested and effective settings in full, the result (every ``PerformanceResult``
field; ``null`` in accuracy mode), the validity verdict with every failed rule and its
message, the run's problems, and the caller's ``system`` and ``provenance`` dicts.

Reading refuses a file from a newer mlmeter with a one-line ``UserError`` naming the fix
and migrates older ones step by step through ``_MIGRATIONS`` (version n -> n + 1).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from mlmeter._version import __version__
from mlmeter.errors import UserError
from mlmeter.logfmt._atomic import StrPath, atomic_write_text
from mlmeter.logfmt._records import (
    OFFICIAL_LOADGEN_VERSION,
    PerformanceResult,
    RunHeader,
    RunProblems,
)
from mlmeter.logfmt._verdict import verdict
from mlmeter.settings import EffectiveSettings, TestSettings

RESULTS_FORMAT = "mlmeter.results"
RESULTS_VERSION = 1

Doc = dict[str, Any]
# version n -> a function turning a version-n document into a version-(n + 1) document
_MIGRATIONS: dict[int, Callable[[Doc], Doc]] = {}


def results_document(
    *,
    requested: TestSettings,
    effective: EffectiveSettings,
    result: PerformanceResult | None,
    problems: RunProblems,
    header: RunHeader | None = None,
    system: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Doc:
    """The results document as plain JSON-ready data."""
    doc: Doc = {
        "format": RESULTS_FORMAT,
        "version": RESULTS_VERSION,
        "tool": {"name": "mlmeter", "version": __version__, "loadgen": OFFICIAL_LOADGEN_VERSION},
        "run": None if header is None else _plain(dataclasses.asdict(header)),
        "requested": _plain(requested.as_dict()),
        "effective": {k.removeprefix("effective_"): _plain(v) for k, v in effective.log_items()},
        "result": None if result is None else _plain(dataclasses.asdict(result)),
        "validity": None if result is None else _validity(result),
        "problems": _plain(dataclasses.asdict(problems)),
        "system": _plain(dict(system or {})),
        "provenance": _plain(dict(provenance or {})),
    }
    return doc


def _validity(result: PerformanceResult) -> Doc:
    v = verdict(result)
    return {
        "valid": v.valid,
        "perf_constraints_met": v.perf_constraints_met,
        "min_duration_met": v.min_duration_met,
        "min_queries_met": v.min_queries_met,
        "early_stopping_met": v.early_stopping_met,
        "failed_rules": [{"code": c.code, "message": c.message} for c in v.failed],
    }


def _plain(value: Any) -> Any:
    """JSON-ready data: str keys, lists for tuples, ``None`` for non-finite floats."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Enum):
        return value.value
    return value


def write_results_json(
    path: StrPath,
    *,
    requested: TestSettings,
    effective: EffectiveSettings,
    result: PerformanceResult | None,
    problems: RunProblems,
    header: RunHeader | None = None,
    system: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Doc:
    """Write ``results.json`` atomically; return the document written."""
    doc = results_document(
        requested=requested,
        effective=effective,
        result=result,
        problems=problems,
        header=header,
        system=system,
        provenance=provenance,
    )
    atomic_write_text(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return doc


def read_results_json(path: StrPath) -> Doc:
    """Read a results file, migrated to the current version."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not a JSON results file ({exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("format") != RESULTS_FORMAT:
        raise UserError(f"{path}: not an mlmeter results file (no format {RESULTS_FORMAT!r})")
    return migrate_results(doc, str(path))


def migrate_results(doc: Doc, where: str = "results") -> Doc:
    """Bring ``doc`` to ``RESULTS_VERSION``; refuse documents from a newer mlmeter."""
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{where}: the results format version {version!r} is not valid")
    if version > RESULTS_VERSION:
        raise UserError(
            f"{where} uses results format version {version}, newer than this mlmeter "
            f"{__version__} reads (up to {RESULTS_VERSION}): upgrade mlmeter"
        )
    while doc["version"] < RESULTS_VERSION:
        doc = _MIGRATIONS[doc["version"]](doc)
    return doc
