"""Assertions every results-store backend must pass (SQLite and PostgreSQL tests share them).

Import it from a test beside it as ``import _store_checks`` (pytest puts the test's folder on
``sys.path``, as for ``tests/submission/trees.py``); a subprocess loads it by file path."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from typing import Any

from mlmeter.results._model import RunFilter, RunRow
from mlmeter.results._open import open_store


def make_row(**changes: Any) -> RunRow:
    """A row with every field set to something other than its default."""
    row = RunRow(
        id=0,
        recorded_at="2024-05-01T10:11:12Z",
        source="run",
        kind="inference",
        division="closed",
        org="Acme",
        system="acme-box_1",
        benchmark="resnet50",
        scenario="Offline",
        metric="result_samples_per_second",
        value=1234.5,
        unit="samples/s",
        valid=True,
        higher_is_better=True,
        accelerator="H100",
        accelerators=8,
        run_at="2024-04-30T09:00:00Z",
        path="/runs/one",
        tool_version="0.1.0",
        extra={"latency_ns": {"p50": 10, "p99": 12.5}, "sut": "torch", "ok": [True, None]},
    )
    return dataclasses.replace(row, **changes)


def check_round_trip(url: str) -> None:
    """Every field comes back as written; ids are new; ``get`` of a missing id is None."""
    rows = [
        make_row(),
        make_row(value=None, valid=False, higher_is_better=False, extra={}, scenario=""),
        make_row(system="ünï-'quote\"; DROP TABLE runs;--", value=-0.0, accelerators=0),
    ]
    with open_store(url) as store:
        ids = store.add(rows)
        assert len(set(ids)) == 3
        for new_id, row in zip(ids, rows, strict=True):
            assert store.get(new_id) == dataclasses.replace(row, id=new_id)
        assert store.get(max(ids) + 1000) is None
        assert [r.id for r in store.runs()] == sorted(ids, reverse=True)


def check_filters(url: str) -> None:
    """Each filter field selects exactly the matching rows."""
    with open_store(url) as store:
        a, b, c = store.add(
            [
                make_row(system="Alpha-1", benchmark="resnet50", valid=True),
                make_row(system="beta", benchmark="bert-99", scenario="Server", valid=False),
                make_row(
                    kind="training",
                    source="train",
                    system="a%b",
                    benchmark="resnet",
                    scenario="",
                    division="open",
                    org="Other",
                ),
            ]
        )

        def ids(**kw: Any) -> list[int]:
            return [r.id for r in store.runs(RunFilter(**kw))]

        assert ids() == [c, b, a]
        assert ids(system="ALPHA") == [a]
        assert ids(system="%") == [c]  # a literal %, not a wildcard
        assert ids(system="_") == []
        assert ids(kind="training") == [c]
        assert ids(source="train") == [c]
        assert ids(division="open") == [c]
        assert ids(org="Other") == [c]
        assert ids(benchmark="bert-99") == [b]
        assert ids(scenario="Server") == [b]
        assert ids(valid_only=True) == [c, a]
        assert ids(limit=2) == [c, b]
        assert ids(benchmark="resnet50", scenario="Server") == []


WRITER = textwrap.dedent(
    """
    import sys
    from tests_results_checks import make_row
    from mlmeter.results._open import open_store
    url, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open_store(url) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(n):
            store.add([make_row(system=tag, extra={"i": i})])
    print("done", flush=True)
    """
)


def check_two_writers(url: str, n: int = 200, timeout: float = 150.0) -> None:
    """Two processes add ``n`` rows each, one transaction per row, at the same time."""
    import pathlib

    here = pathlib.Path(__file__).resolve().parent
    code = WRITER.replace("from tests_results_checks import make_row", _IMPORT.format(here=here))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, tag, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tag in ("writer-a", "writer-b")
    ]
    try:
        for p in procs:
            assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        for p in procs:  # both are connected: start them together
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.close()
        for p in procs:
            assert p.wait(timeout=timeout) == 0
            assert p.stdout is not None and p.stdout.read().strip() == "done"
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for pipe in (p.stdin, p.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()
    with open_store(url) as store:
        for tag in ("writer-a", "writer-b"):
            rows = store.runs(RunFilter(system=tag))
            assert sorted(r.extra["i"] for r in rows) == list(range(n))
        assert len(store.runs()) == 2 * n


_IMPORT = (
    "import importlib.util as _u;"
    " _s = _u.spec_from_file_location('_sc', '{here}/_store_checks.py');"
    " _m = _u.module_from_spec(_s); _s.loader.exec_module(_m); make_row = _m.make_row"
)
