"""The HTML report in a real headless browser (Debian's ``chromium``).

Loads the ``file://`` page through the DevTools protocol (``_cdp_pipe``: stdlib only,
over ``--remote-debugging-pipe``) and checks: no uncaught exception, console or log
error; no request other than the page itself (it works offline); the script wired every
plot (``data-rendered="1"``) and its cursor readout answers a mouse move; the page
renders to a PNG. Set ``MLMETER_REPORT_SCREENSHOT=path.png`` to keep the screenshot.

Skipped when chromium is not installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mlmeter.reporting import build_report, get_exporter, load_runs


def _load_cdp_client() -> ModuleType:
    """``_cdp_pipe.py`` beside this file, whatever pytest's import mode."""
    spec = importlib.util.spec_from_file_location(
        "_cdp_pipe", Path(__file__).with_name("_cdp_pipe.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


_cdp_pipe = _load_cdp_client()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# runs after the page's own script: count the wired plots, then move the mouse over the
# middle of the first line plot and read its readout
PROBE = """(() => {
  const svg = document.querySelector("svg.plot.lines");
  const box = svg.getBoundingClientRect();
  svg.dispatchEvent(new MouseEvent("mousemove", {
    clientX: box.left + box.width / 2, clientY: box.top + box.height / 2, bubbles: true}));
  return JSON.stringify({
    figures: document.querySelectorAll("figure.plot-box").length,
    rendered: document.querySelectorAll('figure.plot-box[data-rendered="1"]').length,
    marked: document.documentElement.getAttribute("data-plots-rendered"),
    width: box.width,
    readout: svg.querySelector(".readout").textContent,
    shown: svg.querySelector(".hover").getAttribute("visibility"),
  });
})()"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed: apt-get install chromium")
def test_report_page_renders_in_headless_chromium(runs: dict[str, Path], tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    report = build_report(load_runs([runs["server"], runs["single"], runs["offline"]]))
    page.write_text(get_exporter("html").render(report), encoding="utf-8")

    result = _cdp_pipe.open_page(CHROMIUM, page.as_uri(), tmp_path / "profile", PROBE)

    assert result.errors == []
    assert result.requests == [page.as_uri()]  # nothing fetched: the page works offline
    probe = json.loads(result.value)
    expected = 3 * 4 + 1  # three runs with timings x 4 plots, plus the overlaid CDFs
    assert probe["figures"] == probe["rendered"] == expected
    assert probe["marked"] == str(expected) and probe["width"] > 300
    assert probe["shown"] == "visible" and "latency" in probe["readout"]
    assert result.png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", result.png[16:24])
    assert width > 800 and height > 2000, (width, height)
    keep = os.environ.get("MLMETER_REPORT_SCREENSHOT")
    if keep:
        Path(keep).write_bytes(result.png)
