"""Rows and log folders for the dashboard tests: ``from _dashboard_data import ...`` (pytest
puts the test's folder on ``sys.path``, as for ``tests/submission/trees.py``).

``make_rows(base)`` writes log folders under ``base`` and returns the rows that point at
them: two systems x two inference repeats on each of two days (with p99 latencies), a
training result, an INVALID run, and a system whose name is hostile HTML. A file
``secret.txt`` lies beside the log folders, and one log folder holds a link to it.
"""

from __future__ import annotations

from pathlib import Path

from mlmeter.results import RunRow

HOSTILE = "<script>alert('x')</script>\"&evil"
SECRET = "top secret, not a log"


def _row(n: int, path: Path, **fields: object) -> RunRow:
    base: dict[str, object] = dict(
        id=0, recorded_at="2026-01-01T00:00:00Z", source="run", kind="inference",
        division="closed", org="acme", system="alpha", benchmark="resnet50", scenario="Offline",
        metric="result_samples_per_second", value=100.0 + n, unit="samples/s", valid=True,
        higher_is_better=True, run_at=f"2026-01-0{1 + n % 3}T10:0{n % 10}:00Z", path=str(path),
        extra={"latency_ms": {"p50": 1.0 + n, "p99": 5.0 + n}},
    )  # fmt: skip
    base.update(fields)
    return RunRow(**base)  # type: ignore[arg-type]


def make_rows(base: Path) -> list[RunRow]:
    """The rows described above (their log folders are written under ``base``)."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "secret.txt").write_text(SECRET, encoding="utf-8")
    rows = []
    specs: list[dict[str, object]] = [
        {"system": "alpha"}, {"system": "alpha"}, {"system": "beta", "org": "globex"},
        {"system": "beta", "org": "globex"}, {"system": "alpha", "valid": False},
        {"system": HOSTILE, "benchmark": HOSTILE,
         "extra": {"latency_ms": {"p99": 9.0}, "note": HOSTILE}},
        {"system": "alpha", "kind": "training", "source": "train", "benchmark": "resnet",
         "scenario": "", "metric": "time_to_train_minutes", "unit": "minutes",
         "higher_is_better": False, "extra": {}},
    ]  # fmt: skip
    for n, spec in enumerate(specs):
        folder = base / f"run{n}"
        (folder / "accuracy").mkdir(parents=True)
        (folder / "mlperf_log_summary.txt").write_text(f"summary of run {n}\n", encoding="utf-8")
        (folder / "accuracy" / "accuracy.txt").write_text(f"accuracy {n}\n", encoding="utf-8")
        rows.append(_row(n, folder, **spec))
    (base / "run0" / "leak.txt").symlink_to(base / "secret.txt")
    (base / "run0" / "leakdir").symlink_to(base, target_is_directory=True)
    return rows
