"""The store over any DB-API connection: one SQL text for SQLite and PostgreSQL.

Every value is a bound parameter (written ``?`` here; the PostgreSQL backend rewrites it
to ``%s``); ``extra`` is stored as JSON text, so nothing read back can execute code.
Every write is one transaction; a failure rolls all of it back.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, fields
from typing import Any

from mlmeter._version import __version__
from mlmeter.errors import UserError
from mlmeter.results._model import RunFilter, RunRow
from mlmeter.results._schema import COLUMNS, LATEST, MIGRATIONS, VERSION_TABLE

_INSERT_COLUMNS = COLUMNS[1:]
_ALL = RunFilter()
_EXACT = ("kind", "source", "division", "org", "benchmark", "scenario")


def utc_now() -> str:
    """The current UTC time, ISO 8601 with ``Z`` (seconds)."""
    now = _dt.datetime.now(_dt.UTC).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


class SqlStore:
    """A results store over a DB-API connection (``conn.execute`` returns a cursor).

    Subclasses open the connection, then call ``_migrate``; they set ``begin_sql`` (the
    statement that opens a write transaction) and ``id_pk`` (the key column's type)."""

    begin_sql = "BEGIN"
    lock_sql = ""  # run first in the migration transaction (PostgreSQL: an advisory lock)
    id_pk = "INTEGER PRIMARY KEY"

    def __init__(self, url: str, conn: Any) -> None:
        self.url = url
        self._conn = conn
        self._lock = threading.Lock()

    def _sql(self, text: str) -> str:
        """The statement in this backend's parameter style."""
        return text

    def _execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(self._sql(text), tuple(params))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._conn.execute(self.begin_sql)
            done = False
            try:
                yield
                done = True
            finally:
                self._conn.execute("COMMIT" if done else "ROLLBACK")

    def schema_version(self) -> int:
        """The schema version the database is at."""
        with self._lock:
            row = self._execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        """Bring the schema to ``LATEST`` in one transaction; refuse a newer database."""
        with self._transaction():
            if self.lock_sql:
                self._execute(self.lock_sql)
            self._execute(VERSION_TABLE)
            row = self._execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0] or 0)
            if current > LATEST:
                raise UserError(
                    f"{self.url}: results database schema version {current} is newer than "
                    f"this mlmeter {__version__} knows (up to {LATEST}): upgrade mlmeter"
                )
            for version in range(current, LATEST):
                for statement in MIGRATIONS[version]:
                    self._execute(statement.format(id_pk=self.id_pk))
                self._execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))

    def add(self, rows: Sequence[RunRow]) -> list[int]:
        """Insert ``rows`` (their ``id`` is ignored) in one transaction; their new ids."""
        names = ", ".join(_INSERT_COLUMNS)
        marks = ", ".join("?" for _ in _INSERT_COLUMNS)
        text = f"INSERT INTO runs ({names}) VALUES ({marks}) RETURNING id"
        ids: list[int] = []
        with self._transaction():
            for row in rows:
                ids.append(int(self._execute(text, _to_params(row)).fetchone()[0]))
        return ids

    def runs(self, where: RunFilter = _ALL) -> list[RunRow]:
        """Rows matching ``where``, newest first."""
        clauses, params = _where(where)
        text = f"SELECT {', '.join(COLUMNS)} FROM runs"
        if clauses:
            text += " WHERE " + " AND ".join(clauses)
        text += " ORDER BY id DESC"
        if where.limit > 0:
            text += " LIMIT ?"
            params.append(where.limit)
        with self._lock:
            found = self._execute(text, params).fetchall()
        return [_from_db(r) for r in found]

    def get(self, run_id: int) -> RunRow | None:
        """One row by id, or None."""
        text = f"SELECT {', '.join(COLUMNS)} FROM runs WHERE id = ?"
        with self._lock:
            found = self._execute(text, (run_id,)).fetchone()
        return None if found is None else _from_db(found)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_params(row: RunRow) -> list[Any]:
    values = dict(zip([f.name for f in fields(RunRow)], astuple(row), strict=True))
    values["recorded_at"] = row.recorded_at or utc_now()
    values["valid"] = int(row.valid)
    values["higher_is_better"] = int(row.higher_is_better)
    values["value"] = None if row.value is None else float(row.value)
    values["extra"] = json.dumps(row.extra, sort_keys=True)
    return [values[name] for name in _INSERT_COLUMNS]


def _from_db(found: Sequence[Any]) -> RunRow:
    values = dict(zip(COLUMNS, found, strict=True))
    values["valid"] = bool(values["valid"])
    values["higher_is_better"] = bool(values["higher_is_better"])
    values["value"] = None if values["value"] is None else float(values["value"])
    values["id"] = int(values["id"])
    values["accelerators"] = int(values["accelerators"])
    values["extra"] = json.loads(values["extra"])
    return RunRow(**values)


def _where(where: RunFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for name in _EXACT:
        if getattr(where, name):
            clauses.append(f"{name} = ?")
            params.append(getattr(where, name))
    if where.system:
        clauses.append("LOWER(system) LIKE ? ESCAPE '!'")
        escaped = where.system.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
        params.append(f"%{escaped}%")
    if where.valid_only:
        clauses.append("valid = 1")
    return clauses, params
