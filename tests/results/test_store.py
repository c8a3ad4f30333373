"""The SQLite results store: round trip, filters, migrations, refusal of newer databases,
all-or-nothing writes, and how a URL picks the database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import _store_checks as checks
import pytest

from mlmeter.errors import UsageError, UserError
from mlmeter.results import RunFilter, open_store


def test_round_trip_of_every_field(tmp_path: Path) -> None:
    checks.check_round_trip(str(tmp_path / "r.db"))


def test_filters(tmp_path: Path) -> None:
    checks.check_filters(str(tmp_path / "r.db"))


def test_sqlite_url_env_and_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sub" / "x.db"
    with open_store(f"sqlite://{path}") as store:
        store.add([checks.make_row()])
    monkeypatch.setenv("MLMETER_DB", str(path))
    with open_store() as store:
        assert len(store.runs()) == 1
        assert store.url == str(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def _make_v1(path: Path) -> None:
    """A database as mlmeter's first schema wrote it (no run_at), with one row."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
        cols = [
            *("recorded_at", "source", "kind", "division", "org", "system", "benchmark"),
            *("scenario", "metric", "value", "unit", "valid", "higher_is_better"),
            *("accelerator", "accelerators", "path", "tool_version", "extra"),
        ]
        conn.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            + ", ".join(f"{c} TEXT" for c in cols)
            + ")"
        )
        values = ["2023-01-02T03:04:05Z", "run", "inference", "", "", "old", "resnet50"]
        values += ["Offline", "m", 5.0, "samples/s", 1, 1, "", 0, "/p", "0.0.1", '{"k": 1}']
        conn.execute(f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * 18)})", values)
    conn.close()


def test_migrates_a_v1_database(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    _make_v1(path)
    with open_store(str(path)) as store:
        assert store.schema_version() == 2
        (old,) = store.runs()
        assert (old.system, old.value, old.extra, old.valid) == ("old", 5.0, {"k": 1}, True)
        assert old.run_at == "2023-01-02T03:04:05Z"  # v2 fills run_at from recorded_at
        (new_id,) = store.add([checks.make_row()])
        assert [r.id for r in store.runs(RunFilter(system="acme"))] == [new_id]
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version")]
        indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    conn.close()
    assert versions == [1, 2]
    assert "runs_run_at" in indexes
    with open_store(str(path)) as store:  # opening again changes nothing
        assert store.schema_version() == 2 and len(store.runs()) == 2


def test_refuses_a_newer_database(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    open_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.close()
    with pytest.raises(UserError, match="schema version 99 is newer") as info:
        open_store(str(path))
    assert "\n" not in str(info.value) and "upgrade mlmeter" in str(info.value)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(UserError, match="not a usable results database"):
        open_store(str(path))


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "t.db")) as store:
        store.add([checks.make_row(system="kept")])
        bad = checks.make_row(extra={"x": object()})  # not JSON: fails after the first insert
        with pytest.raises(TypeError):
            store.add([checks.make_row(system="lost"), bad])
        assert [r.system for r in store.runs()] == ["kept"]
        store.add([checks.make_row(system="after")])  # the connection is still usable
        assert [r.system for r in store.runs()] == ["after", "kept"]


def test_postgres_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name: str, *args: object, **kwargs: object) -> object:
        if name == "psycopg":
            raise ImportError("no psycopg")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(UsageError, match=r"pip install 'mlmeter\[results-pg\]'"):
        open_store("postgresql://u:secret@127.0.0.1:1/db")
