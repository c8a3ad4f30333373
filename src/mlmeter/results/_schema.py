"""The results database's schema, written once for SQLite and PostgreSQL, and its migrations.

Portable types only (``TEXT``, ``INTEGER``, ``BIGINT``, ``DOUBLE PRECISION``); the one
dialect difference, the auto-increment key, is the ``{id_pk}`` placeholder. A
``schema_version`` table holds one row per applied migration; ``MIGRATIONS[i]`` brings a
database from version ``i`` to ``i + 1``. Append new migrations; never edit old ones.
"""

from __future__ import annotations

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

_V1_CREATE = (
    """CREATE TABLE runs (
        id {id_pk},
        recorded_at TEXT NOT NULL,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        division TEXT NOT NULL,
        org TEXT NOT NULL,
        system TEXT NOT NULL,
        benchmark TEXT NOT NULL,
        scenario TEXT NOT NULL,
        metric TEXT NOT NULL,
        value DOUBLE PRECISION,
        unit TEXT NOT NULL,
        valid INTEGER NOT NULL,
        higher_is_better INTEGER NOT NULL,
        accelerator TEXT NOT NULL,
        accelerators INTEGER NOT NULL,
        path TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        extra TEXT NOT NULL
    )""",
    "CREATE INDEX runs_key ON runs (benchmark, scenario, system)",
)

# v2: when the run itself happened (the dashboard's results-over-time plot), indexed.
_V2_RUN_AT = (
    "ALTER TABLE runs ADD COLUMN run_at TEXT NOT NULL DEFAULT ''",
    "UPDATE runs SET run_at = recorded_at",
    "CREATE INDEX runs_run_at ON runs (run_at)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1_CREATE, _V2_RUN_AT)
LATEST = len(MIGRATIONS)

COLUMNS = (
    "id",
    "recorded_at",
    "source",
    "kind",
    "division",
    "org",
    "system",
    "benchmark",
    "scenario",
    "metric",
    "value",
    "unit",
    "valid",
    "higher_is_better",
    "accelerator",
    "accelerators",
    "run_at",
    "path",
    "tool_version",
    "extra",
)
