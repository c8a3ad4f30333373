"""The dashboard over real HTTP and a real SQLite store: every route, filters, escaping,
log-path safety, bad ids and parameters, read-only, the CLI, and runs recorded by two
processes at once."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
from _dashboard_data import HOSTILE, SECRET, make_rows

from mlmeter.dashboard import dashboard_app
from mlmeter.dashboard._plots import latency_ms, over_time, throughput_latency
from mlmeter.results import RunRow, open_store
from mlmeter.results._sql import SqlStore
from mlmeter.suts._uvicorn import ServerThread


def fetch(
    base: str, path: str, method: str = "GET", host: str = ""
) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request, ``path`` sent exactly as given."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(method, path, headers={"Host": host} if host else {})
        resp = conn.getresponse()
        body = resp.read().decode("utf-8", "replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def api_ids(base: str, query: str = "") -> list[int]:
    status, _, body = fetch(base, "/api/runs" + (f"?{query}" if query else ""))
    assert status == 200, body
    return [r["id"] for r in json.loads(body)]


def table_rows(body: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr class="run[^"]*" data-run="(\d+)"', body)]


def test_every_route_answers(store: SqlStore, served: str) -> None:
    first = store.runs()[-1]  # run0: logs in a folder with a subfolder
    pages = ["/", "/systems", f"/run/{first.id}", f"/compare?a={first.id}&b={first.id + 1}"]
    for path in pages:
        status, headers, body = fetch(served, path)
        assert status == 200, (path, body)
        assert headers["content-type"].startswith("text/html")
        assert "script-src 'sha256-" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert body.startswith("<!DOCTYPE html>")
    for name in ("mlperf_log_summary.txt", "accuracy/accuracy.txt"):
        status, headers, body = fetch(served, f"/logs/{first.id}/{name}")
        assert status == 200 and headers["content-type"] == "text/plain; charset=utf-8"
        expected = (Path(first.path) / name).read_text(encoding="utf-8")
        assert body == expected
    status, headers, body = fetch(served, f"/api/runs/{first.id}")
    assert status == 200 and json.loads(body)["path"] == first.path


def test_pages_use_no_outside_resources(served: str) -> None:
    for path in ("/", "/systems"):
        body = fetch(served, path)[2]
        assert not re.search(r'(src|href)="(https?:)?//', body), path


def test_api_filters_match_the_rows(store: SqlStore, served: str) -> None:
    rows = store.runs()
    cases: dict[str, list[RunRow]] = {
        "": rows,
        "kind=training": [r for r in rows if r.kind == "training"],
        "system=ALP": [r for r in rows if "alp" in r.system.lower()],
        "valid=1": [r for r in rows if r.valid],
        "benchmark=resnet50&scenario=Offline": [
            r for r in rows if r.benchmark == "resnet50" and r.scenario == "Offline"
        ],
        "org=globex&division=closed": [r for r in rows if r.org == "globex"],
        "source=train": [r for r in rows if r.source == "train"],
        "limit=2": rows[:2],
        "system=" + quote(HOSTILE): [r for r in rows if r.system == HOSTILE],
    }
    for query, expected in cases.items():
        assert api_ids(served, query) == [r.id for r in expected], query
    assert 0 < len(cases["system=ALP"]) < len(rows) and len(cases["valid=1"]) == len(rows) - 1


def test_filter_form_narrows_the_table(store: SqlStore, served: str) -> None:
    everything = table_rows(fetch(served, "/")[2])
    assert everything == [r.id for r in store.runs()]
    body = fetch(served, "/?system=beta&valid=1")[2]
    assert table_rows(body) == [r.id for r in store.runs() if r.system == "beta"]
    assert 'name="system" value="beta"' in body and 'value="1" checked' in body


def test_hostile_text_is_escaped_everywhere(store: SqlStore, served: str) -> None:
    hostile = next(r for r in store.runs() if r.system == HOSTILE)
    other = next(r for r in store.runs() if r.system == "alpha")
    paths = ["/", "/systems", f"/run/{hostile.id}", f"/compare?a={other.id}&b={hostile.id}"]
    paths.append("/?" + urlencode({"system": HOSTILE}))
    for path in paths:
        body = fetch(served, path)[2]
        assert "<script>alert" not in body, path
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&amp;evil" in body, path
    status, _, body = fetch(served, "/run/" + quote("<b>1"))
    assert status == 404 and "<b>1" not in body and "&lt;b&gt;1" in body


TRAVERSALS = [
    "../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "accuracy/../../secret.txt",
    "leak.txt", "leakdir/secret.txt", "leakdir/run0/mlperf_log_summary.txt", "%2Fetc%2Fpasswd",
    "/etc/passwd", "accuracy", "accuracy/", "./mlperf_log_summary.txt", "nothing.txt",
    "..%5csecret.txt", "mlperf_log_summary.txt%00",
]  # fmt: skip


@pytest.mark.parametrize("name", TRAVERSALS)
def test_log_urls_cannot_leave_the_run_folder(store: SqlStore, served: str, name: str) -> None:
    first = store.runs()[-1]
    status, _, body = fetch(served, f"/logs/{first.id}/{name}")
    assert status == 404, (name, body)
    assert SECRET not in body and "root:" not in body


def test_logs_only_for_rows_with_a_folder(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    rows = make_rows(tmp_path / "logs")
    gone = [replace(rows[0], path=p) for p in ("", "/nowhere/at/all")]
    plain = replace(rows[0], path=str(tmp_path / "logs/secret.txt"))
    with open_store(str(tmp_path / "r.db")) as store, ServerThread(dashboard_app(store)) as url:
        ids = store.add([*gone, plain])
        for run_id in ids:
            assert fetch(url, f"/logs/{run_id}/secret.txt")[0] == 404
            status, _, body = fetch(url, f"/run/{run_id}")
            assert status == 200 and "no log folder" in body
    listing = fetch_listing(rows[0].path)
    assert "leak.txt" not in listing and "leakdir" not in listing


def fetch_listing(path: str) -> list[str]:
    from mlmeter.dashboard._logs import list_logs, log_root

    root = log_root(path)
    assert root is not None
    return list_logs(root)


def test_run_page_links_every_log(store: SqlStore, served: str) -> None:
    first = store.runs()[-1]
    body = fetch(served, f"/run/{first.id}")[2]
    links = re.findall(r'href="(/logs/[^"]+)"', body)
    assert links == [f"/logs/{first.id}/accuracy/accuracy.txt",
                     f"/logs/{first.id}/mlperf_log_summary.txt"]  # fmt: skip
    for link in links:
        assert fetch(served, link)[0] == 200


BAD = {
    "/run/0": 404, "/run/abc": 404, "/run/-1": 404, "/run/99999999999999999999999": 404,
    "/api/runs/777": 404, "/logs/777/x.txt": 404, "/logs/abc/x.txt": 404, "/nowhere": 404,
    "/?kind=quantum": 400, "/?valid=maybe": 400, "/?limit=many": 400, "/?colour=red": 400,
    "/api/runs?source=stolen": 400, "/systems?kind=x": 400, "/compare?a=1": 400,
    "/compare?b=1": 400, "/compare?a=x&b=1": 400, "/compare?a=1&b=1&c=2": 400,
    "/compare?a=1&b=424242": 404,
}  # fmt: skip


@pytest.mark.parametrize(("path", "status"), sorted(BAD.items()))
def test_bad_ids_and_parameters(served: str, path: str, status: int) -> None:
    got, headers, body = fetch(served, path)
    assert got == status, body
    if path.startswith("/api/"):
        assert "error" in json.loads(body)
    else:
        assert headers["content-type"].startswith("text/html") and "back to the runs" in body


def test_no_endpoint_writes(store: SqlStore, served: str) -> None:
    before = store.runs()
    first = before[-1]
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/runs", f"/run/{first.id}", f"/logs/{first.id}/x", "/compare"):
            assert fetch(served, path, method)[0] == 405, (method, path)
    assert store.runs() == before
    assert sorted(p.name for p in Path(first.path).iterdir()) == [
        "accuracy", "leak.txt", "leakdir", "mlperf_log_summary.txt"]  # fmt: skip


def test_requests_for_other_hosts_are_refused(served: str) -> None:
    port = urlsplit(served).port
    assert fetch(served, "/api/runs", host=f"localhost:{port}")[0] == 200
    status, _, body = fetch(served, "/api/runs", host=f"evil.example:{port}")
    assert status == 400 and "alpha" not in body


def test_compare_shows_the_delta(store: SqlStore, served: str) -> None:
    alpha = [r for r in store.runs() if r.system == "alpha" and r.kind == "inference" and r.valid]
    a, b = alpha[-1], alpha[-2]
    body = fetch(served, f"/compare?a={a.id}&b={b.id}")[2]
    deltas = re.findall(r'<tr class="delta">(.*?)</tr>', body)
    assert len(deltas) == 1
    change = (b.value - a.value) / a.value * 100  # type: ignore[operator]
    assert f"{change:+.2f}%" in deltas[0] and "alpha" in deltas[0]
    assert table_rows(body) == [a.id, b.id]


def test_plots_hold_one_point_per_run(store: SqlStore) -> None:
    rows = store.runs()
    timed = "".join(over_time(rows))
    assert sorted(map(int, re.findall(r'data-run="(\d+)"', timed))) == sorted(r.id for r in rows)
    scatter = "".join(throughput_latency(rows))
    latency = [r.id for r in rows if r.kind == "inference" and r.extra.get("latency_ms")]
    assert sorted(map(int, re.findall(r'data-run="(\d+)"', scatter))) == sorted(latency)
    assert "<script" not in timed + scatter


def test_latency_units_are_converted() -> None:
    row = make_row_extra({"p99_latency_ns": 2_500_000})
    assert latency_ms(row) == ("p99_latency_ns", 2.5)
    assert latency_ms(make_row_extra({"p90_latency_s": 0.5, "junk": "x"})) == (
        "p90_latency_s",
        500.0,
    )
    assert latency_ms(make_row_extra({"p99_latency_ms": True})) is None


def make_row_extra(extra: dict[str, object]) -> RunRow:
    return RunRow(0, "2026-01-01T00:00:00Z", "run", "inference", "", "", "s", "b", "Offline",
                  "m", 1.0, "samples/s", True, True, extra=extra)  # fmt: skip


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mlmeter.results import RunRow, open_store
    db, tag, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    deadline = time.monotonic() + 20
    with open_store(db) as store:
        (go.parent / f"ready-{tag}").touch()
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        for i in range(count):
            store.add([RunRow(0, "2026-01-01T00:00:00Z", "run", "inference", "closed", tag,
                              f"{tag}-sys", "resnet50", "Offline", "m", float(i), "samples/s",
                              True, True)])
""")


def test_runs_recorded_by_two_processes_at_once_are_all_there(tmp_path: Path) -> None:
    db, go, count = str(tmp_path / "r.db"), tmp_path / "go", 40
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, db, tag, str(count), str(go)], env=env)
        for tag in ("left", "right")
    ]
    deadline = time.monotonic() + 30  # both open the store, then one file starts them
    while not all((tmp_path / f"ready-{t}").exists() for t in ("left", "right")):
        assert time.monotonic() < deadline and all(w.poll() is None for w in writers)
        time.sleep(0.01)
    go.touch()
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    with open_store(db) as store, ServerThread(dashboard_app(store)) as url:
        rows = json.loads(fetch(url, "/api/runs")[2])
        assert len(rows) == 2 * count == len({r["id"] for r in rows})
        for tag in ("left", "right"):
            mine = sorted(r["value"] for r in rows if r["org"] == tag)
            assert mine == [float(i) for i in range(count)]
        assert len(table_rows(fetch(url, "/")[2])) == 2 * count
        assert "80 of 80 runs" in fetch(url, "/")[2]


def test_cli_prints_its_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    code = (
        "import argparse, sys; from mlmeter.cli import dashboard as d; "
        "p = argparse.ArgumentParser(); s = p.add_subparsers(); d.add_parser(s); "
        "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
    )
    argv = [sys.executable, "-c", code, "dashboard", "--db", str(tmp_path / "r.db"), "--port", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(r"dashboard at (http://127\.0\.0\.1:(\d+))", line)
        assert match and int(match.group(2)) > 0, line
        assert api_ids(match.group(1)) == []
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def test_a_real_run_is_shown_with_its_logs_and_plotted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlmeter.cli.main import main
    from mlmeter.results._record import rows_from_run

    monkeypatch.setenv("MLMETER_DB", str(tmp_path / "r.db"))
    out = tmp_path / "run"
    argv = ["run", "fixed", "--service-ms", "1", "--workers", "2", "--scenario", "Server"]
    main([*argv, "--set", "server_target_qps=300", "--set", "min_duration=200", "--quiet",
          "--output", str(out)])  # fmt: skip
    with open_store(str(tmp_path / "r.db")) as store, ServerThread(dashboard_app(store)) as url:
        if not store.runs():  # `mlmeter run` may record it itself
            store.add(rows_from_run(out))
        (row,) = store.runs()
        body = fetch(url, f"/run/{row.id}")[2]
        for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "results.json"):
            status, _, text = fetch(url, f"/logs/{row.id}/{name}")
            assert f'href="/logs/{row.id}/{name}"' in body and status == 200
            assert text == (out / name).read_text(encoding="utf-8")
        page = fetch(url, "/")[2]
        plots = re.findall(r"<svg.*?</svg>", page)
        assert [p.count(f'data-run="{row.id}"') for p in plots] == [1, 1]  # both plots
        p99 = row.extra["latency_ms"]["p99"]
        assert f"at p99 {p99:.4g} ms" in plots[0]


def test_cli_answers_loopback_names_unless_listening_everywhere() -> None:
    from mlmeter.cli.dashboard import hosts_for

    assert hosts_for("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert hosts_for("10.1.2.3") == ["10.1.2.3", "127.0.0.1", "localhost"]
    assert hosts_for("0.0.0.0") == hosts_for("::1") == ["*"]
