"""The dashboard in headless Chromium (Debian's ``/usr/bin/chromium``) driven by
Playwright: pages load with no console error, page error, dialog or failed request; the
filter form narrows the table and the URL shows the filter; picking runs for A and B and
pressing Compare shows the delta; every plot point is one run; a log link opens the log;
a path-traversal log URL gives 404.

Skipped when chromium (``apt-get install -y chromium``) or the ``playwright`` package
(``pip install playwright``; never ``playwright install``: it uses the system chromium)
is missing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _dashboard_data import HOSTILE, SECRET, make_rows

from mlmeter.dashboard import dashboard_app
from mlmeter.results import RunRow, open_store
from mlmeter.suts._uvicorn import ServerThread

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install playwright"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed: apt-get install chromium"
    ),
    pytest.mark.timeout(120),
]
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@dataclass
class Site:
    """The served dashboard, its rows (newest first) and the browser context."""

    url: str
    rows: list[RunRow]
    context: Any


@dataclass
class Watch:
    """What went wrong on one page: console errors, page errors, dialogs, failed requests."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> Any:
        page.on(
            "console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}")
        )
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        page.on(
            "response", lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}")
        )
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        return page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("dash")
    with (
        open_store(str(base / "r.db")) as store,
        ServerThread(dashboard_app(store)) as url,
        sync_api.sync_playwright() as pw,
    ):
        store.add(make_rows(base / "logs"))
        context = pw.chromium.launch_persistent_context(
            str(base / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS
        )
        context.set_default_timeout(15_000)
        try:
            yield Site(url, store.runs(), context)
        finally:
            context.close()


@pytest.fixture
def page(site: Site) -> Iterator[tuple[Any, Watch]]:
    watch = Watch()
    opened = watch.attach(site.context.new_page())
    try:
        yield opened, watch
    finally:
        opened.close()


def shown_ids(page: Any) -> list[int]:
    return [int(v) for v in page.locator("table.runs tr.run").evaluate_all(
        "rows => rows.map(r => r.dataset.run)")]  # fmt: skip


def test_pages_load_cleanly(site: Site, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    for path, heading in (
        ("/", "Runs"),
        ("/systems", "Systems"),
        (f"/run/{site.rows[0].id}", "Run"),
    ):
        response = tab.goto(site.url + path)
        assert response.status == 200 and tab.locator("h1").inner_text().startswith(heading)
    tab.goto(site.url + "/")
    assert shown_ids(tab) == [r.id for r in site.rows]
    assert tab.get_by_text(HOSTILE).count() >= 1  # shown as text, never run
    assert tab.locator("#picked").inner_text() == "A: 0 run(s), B: 0 run(s)"  # the script ran
    assert watch.problems == []


def test_filter_form_narrows_the_table(site: Site, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    tab.goto(site.url + "/")
    before = len(shown_ids(tab))
    tab.fill("input[name=system]", "BETA")
    tab.check("input[name=valid]")
    with tab.expect_navigation():
        tab.click("form#filter button[type=submit]")
    assert tab.url == site.url + "/?system=BETA&valid=1"  # only the filters set: shareable
    expected = [r.id for r in site.rows if "beta" in r.system.lower() and r.valid]
    assert shown_ids(tab) == expected and 0 < len(expected) < before
    tab.select_option("select[name=kind]", "training")
    tab.fill("input[name=system]", "")
    with tab.expect_navigation():
        tab.click("form#filter button[type=submit]")
    assert shown_ids(tab) == [r.id for r in site.rows if r.kind == "training"]
    assert watch.problems == []


def test_compare_picked_runs(site: Site, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    alpha = [r for r in site.rows if r.system == "alpha" and r.kind == "inference" and r.valid]
    a, b = alpha[-1], alpha[-2]
    tab.goto(site.url + "/")
    button = tab.locator("form#compare button")
    assert button.is_disabled()
    tab.check(f"input[name=a][value='{a.id}']")
    tab.check(f"input[name=b][value='{b.id}']")
    assert button.is_enabled() and tab.locator("#picked").inner_text() == "A: 1 run(s), B: 1 run(s)"
    with tab.expect_navigation():
        button.click()
    assert tab.url == f"{site.url}/compare?a={a.id}&b={b.id}"
    deltas = tab.locator("table.deltas tbody tr")
    assert deltas.count() == 1
    change = (b.value - a.value) / a.value * 100  # type: ignore[operator]
    text = deltas.inner_text()
    assert f"{change:+.2f}%" in text and "alpha" in text and "noise unknown" in text
    assert watch.problems == []


def test_plots_have_one_point_per_run(site: Site, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    tab.goto(site.url + "/")

    def runs_in(title: str) -> list[int]:  # fmt: skip
        svgs = tab.locator(f"svg.plot:has(title:text-matches('^{title}'))")
        assert svgs.count() >= 1
        return sorted(int(v) for v in svgs.locator("circle.point").evaluate_all(
            "els => els.map(e => e.dataset.run)"))  # fmt: skip

    assert runs_in("Results over time") == sorted(r.id for r in site.rows)
    with_latency = [r.id for r in site.rows if r.kind == "inference" and r.extra.get("latency_ms")]
    assert runs_in("Throughput against latency") == sorted(with_latency)
    box = tab.locator("svg.plot").first.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    assert watch.problems == []


def test_log_link_opens_the_log_and_traversal_is_404(site: Site, page: tuple[Any, Watch]) -> None:
    tab, watch = page
    first = site.rows[-1]
    tab.goto(f"{site.url}/run/{first.id}")
    with tab.expect_navigation():
        tab.click("ul.logs a:text('mlperf_log_summary.txt')")
    expected = (Path(first.path) / "mlperf_log_summary.txt").read_text(encoding="utf-8")
    assert tab.locator("body").inner_text().strip() == expected.strip()
    assert watch.problems == []
    for name in ("..%2fsecret.txt", "%2e%2e/secret.txt", "leak.txt", "leakdir/secret.txt"):
        response = tab.goto(f"{site.url}/logs/{first.id}/{name}")
        assert response.status == 404 and SECRET not in tab.content(), name
    assert all(re.match(r"(404: |console: Failed to load)", p) for p in watch.problems)
