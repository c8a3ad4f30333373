"""The SQLite backend (stdlib ``sqlite3``): WAL journal, a busy timeout, and every write
in one ``BEGIN IMMEDIATE`` transaction, so processes writing at once wait for each other
and lose nothing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.results._sql import SqlStore

BUSY_TIMEOUT_S = 60.0


class SqliteStore(SqlStore):
    """A results database in one SQLite file (or ``:memory:``)."""

    begin_sql = "BEGIN IMMEDIATE"
    id_pk = "INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, url: str, path: str) -> None:
        if path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            path = str(Path(path).expanduser())
        try:
            conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise UserError(f"{url}: cannot open the results database ({exc})") from None
        super().__init__(url, conn)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _set_wal(conn)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise UserError(f"{url}: not a usable results database ({exc})") from None
        except Exception:
            conn.close()
            raise


def _set_wal(conn: sqlite3.Connection) -> None:
    """Switch a database to the WAL journal. The switch needs the database to itself and
    does not wait on the busy timeout, so when another process holds it (two processes
    opening a new database at once) it is retried until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
