"""``mlmeter results``: the results database (SQLite by default, PostgreSQL by URL).

  list     the recorded results, newest first, with filters
  show     every field of one result
  compare  two sets of results: relative change of the means and whether it exceeds
           run-to-run noise (when a side has repeat runs)
  import   a submission tree or a published MLCommons results repository (folder or archive)
  record   mlmeter run / mlmeter train output folders made before (or with --no-record)

The database: --db URL, else $MLMETER_DB, else ~/.local/share/mlmeter/results.db.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.results._compare import compare
from mlmeter.results._model import RunFilter, RunRow
from mlmeter.results._open import open_store
from mlmeter.results._record import rows_from_run, rows_from_training
from mlmeter.results._render import deltas_json, render_deltas, render_row, render_rows, rows_json
from mlmeter.results._sql import SqlStore

_SIDE_HELP = (
    "runs on one side: IDs (3 or 3,4,5) or filters KEY=VALUE[,KEY=VALUE...] with keys "
    "kind, source, division, org, system (substring), benchmark, scenario, valid (1), limit"
)


def add_parser(sub: Any) -> None:
    """Register ``results`` on the top-level sub-parsers."""
    p = sub.add_parser(
        "results",
        help="list, show, compare and import recorded results",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmds = p.add_subparsers(dest="results_command", required=True)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="path, sqlite:///PATH or "
        "postgresql://... (default $MLMETER_DB, else ~/.local/share/mlmeter/results.db)",
    )
    db.add_argument("--json", action="store_true", help="print JSON")
    ls = cmds.add_parser("list", parents=[db], help="recorded results, newest first")
    for name in ("kind", "source", "division", "org", "benchmark", "scenario"):
        ls.add_argument(f"--{name}", default="", help=f"only this {name}")
    ls.add_argument("--system", default="", help="system name contains this (any case)")
    ls.add_argument("--valid", action="store_true", help="only VALID results")
    ls.add_argument("--limit", type=int, default=50, help="at most N rows (0: all; default 50)")
    show = cmds.add_parser("show", parents=[db], help="every field of one result")
    show.add_argument("id", type=int)
    cmp = cmds.add_parser(
        "compare",
        parents=[db],
        help="compare two sets of results",
        epilog="e.g. compare 12,13,14 15,16,17  or  compare "
        "system=old-box,benchmark=resnet50 system=new-box,benchmark=resnet50",
    )
    cmp.add_argument("a", help=_SIDE_HELP)
    cmp.add_argument("b", help="the other side (the change is from A to B)")
    imp = cmds.add_parser("import", parents=[db], help="record a submission or published tree")
    imp.add_argument("tree", type=Path, help="tree folder or archive (.tar.gz, .zip)")
    rec = cmds.add_parser("record", parents=[db], help="record mlmeter run/train output folders")
    rec.add_argument("dirs", type=Path, nargs="+", metavar="RUN_DIR")
    p.set_defaults(func=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Open the database, do the subcommand, print the result."""
    with open_store(args.db) as store:
        handler = _HANDLERS[args.results_command]
        return handler(store, args)


def _list(store: SqlStore, args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise UsageError("--limit: use 0 (all) or a positive count")
    where = RunFilter(kind=args.kind, source=args.source, division=args.division, org=args.org,
                      system=args.system, benchmark=args.benchmark, scenario=args.scenario,
                      valid_only=args.valid, limit=args.limit)  # fmt: skip
    rows = store.runs(where)
    print(rows_json(rows) if args.json else render_rows(rows))
    return 0


def _show(store: SqlStore, args: argparse.Namespace) -> int:
    row = store.get(args.id)
    if row is None:
        raise UsageError(f"no result with id {args.id} in {store.url}: see `mlmeter results list`")
    print(rows_json([row])[2:-2].strip() if args.json else render_row(row))
    return 0


def side(store: SqlStore, spec: str) -> list[RunRow]:
    """The rows named by ``spec``: ``3,4,5`` (ids) or ``key=value,...`` (a RunFilter)."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if parts and all(p.isdigit() for p in parts):
        rows = [store.get(int(p)) for p in parts]
        missing = [p for p, r in zip(parts, rows, strict=True) if r is None]
        if missing:
            raise UsageError(f"no result with id {', '.join(missing)}: see `mlmeter results list`")
        return [r for r in rows if r is not None]
    return store.runs(_filter(spec, parts))


def _filter(spec: str, parts: list[str]) -> RunFilter:
    known = set(RunFilter.__dataclass_fields__) - {"valid_only"} | {"valid"}
    fields: dict[str, Any] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or key not in known:
            raise UsageError(f"{spec!r}: use IDs (3,4) or KEY=VALUE with KEY in {sorted(known)}")
        if key in ("limit", "valid") and not value.isdigit():
            raise UsageError(f"{spec!r}: {key} takes a number")
        if key == "valid":
            fields["valid_only"] = value != "0"
        else:
            fields[key] = int(value) if key == "limit" else value
    return RunFilter(**fields)


def _compare(store: SqlStore, args: argparse.Namespace) -> int:
    a, b = side(store, args.a), side(store, args.b)
    for name, rows in (("A", a), ("B", b)):
        if not rows:
            raise UsageError(f"compare: side {name} matches no results: see `mlmeter results list`")
    deltas = compare(a, b)
    print(deltas_json(deltas) if args.json else render_deltas(deltas))
    return 0


def _import(store: SqlStore, args: argparse.Namespace) -> int:
    from mlmeter.results._importing import load_rows

    rows = load_rows(args.tree)
    ids = store.add(rows)
    print(f"imported {len(ids)} result(s) from {args.tree} into {store.url}")
    return 0


def _record(store: SqlStore, args: argparse.Namespace) -> int:
    rows: list[RunRow] = []
    for folder in args.dirs:
        if (folder / "results.json").is_file():
            rows += rows_from_run(folder)
        elif folder.is_dir():
            rows += rows_from_training(folder)
        else:
            raise UsageError(f"{folder}: not an mlmeter run or train output folder")
    ids = store.add(rows)  # all folders in one transaction
    print(f"recorded {len(ids)} result(s) into {store.url}: ids {', '.join(map(str, ids))}")
    return 0


_HANDLERS = {"list": _list, "show": _show, "compare": _compare, "import": _import,
             "record": _record}  # fmt: skip
