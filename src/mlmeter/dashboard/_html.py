"""The page shell: inline CSS and script (allowed by hash in the Content-Security-Policy),
the navigation, and small escaped-HTML helpers. No external assets: it works offline."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:8px 16px;display:flex;gap:18px;align-items:baseline}
header a{color:#fff;text-decoration:none;font-weight:600}header .db{margin-left:auto;opacity:.75}
main{padding:12px 16px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:18px 0 8px}
table{border-collapse:collapse;background:#fff;margin-bottom:12px}
th,td{border:1px solid #d8d8d8;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef1f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.invalid td{color:#a00}form.filter{display:flex;flex-wrap:wrap;gap:8px;align-items:end;
margin-bottom:12px}form.filter label{display:flex;flex-direction:column;font-size:12px}
.better{color:#06702d;font-weight:600}.worse{color:#b00020;font-weight:600}.noise{color:#666}
.muted{color:#666}pre{background:#fff;border:1px solid #d8d8d8;padding:8px;overflow:auto}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0;background:#fff;
border:1px solid #d8d8d8;width:660px}svg.plot{width:100%;height:auto;font-size:11px}
svg .grid line{stroke:#e6e6e6}svg .axis line{stroke:#444}svg .xt,svg .xlabel{text-anchor:middle}
svg .yt,svg .lt{text-anchor:end}svg .ylabel{text-anchor:middle}svg .trend{stroke-width:1.2;
opacity:.6}svg circle.point{stroke:#fff;stroke-width:1}svg circle.point:hover{r:6}
svg circle.point.invalid{fill:#fff;stroke:currentColor;stroke-width:1.5}
figcaption{font-weight:600;padding:6px 8px 0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dt{font-weight:600}dd{margin:0}
"""

SCRIPT = """
"use strict";
function onFilter(form, event) {
  event.preventDefault();
  const query = new URLSearchParams();
  for (const [key, value] of new FormData(form)) { if (value) query.append(key, value); }
  const text = query.toString();
  window.location.assign(form.action + (text ? "?" + text : ""));
}
function picked(form, side) {
  return Array.from(form.querySelectorAll("input[name=" + side + "]:checked"), (e) => e.value);
}
function onPick(form) {
  const a = picked(form, "a"), b = picked(form, "b");
  const text = "A: " + a.length + " run(s), B: " + b.length + " run(s)";
  form.querySelector("#picked").textContent = text;
  form.querySelector("button").disabled = !(a.length && b.length);
}
function onCompare(form, event) {
  event.preventDefault();
  const a = picked(form, "a").join(","), b = picked(form, "b").join(",");
  window.location.assign(form.action + "?a=" + a + "&b=" + b);
}
document.addEventListener("DOMContentLoaded", () => {
  const filter = document.getElementById("filter");
  if (filter) { filter.addEventListener("submit", (e) => onFilter(filter, e)); }
  const compare = document.getElementById("compare");
  if (compare) {
    compare.addEventListener("change", () => onPick(compare));
    compare.addEventListener("submit", (e) => onCompare(compare, e));
    onPick(compare);
  }
});
"""


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'none'; script-src {_digest(SCRIPT)}; style-src {_digest(CSS)}; "
    "img-src data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def h(value: object) -> str:
    """Text escaped for HTML content and quoted attributes."""
    return html.escape(str(value), quote=True)


def page(title: str, body: str, db: str) -> str:
    """A whole HTML document: navigation, ``title`` as heading, ``body`` (already HTML)."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{h(title)} - mlmeter</title>'
        f"<style>{CSS}</style><script>{SCRIPT}</script></head><body>"
        '<header><a href="/">mlmeter results</a><a href="/">Runs</a>'
        f'<a href="/systems">Systems</a><span class="db">{h(db)}</span></header>'
        f"<main><h1>{h(title)}</h1>{body}</main></body></html>"
    )


def table(head: Sequence[str], rows: Iterable[str], cls: str = "") -> str:
    """A table: ``head`` texts (escaped) over ``rows`` (each a ready ``<tr>``)."""
    heads = "".join(f"<th>{h(text)}</th>" for text in head)
    attr = f' class="{h(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def td(value: object, cls: str = "") -> str:
    """One escaped cell."""
    return f'<td class="{h(cls)}">{h(value)}</td>' if cls else f"<td>{h(value)}</td>"


def link(href: str, text: object) -> str:
    """An anchor; ``href`` is escaped as an attribute (the caller quotes its parts)."""
    return f'<a href="{h(href)}">{h(text)}</a>'


def number(value: float | None) -> str:
    """A value for a table: 6 significant digits, ``-`` when missing."""
    return "-" if value is None else f"{value:.6g}"


def select(name: str, label: str, choices: Iterable[str], current: str) -> str:
    """A labelled ``<select>`` with an "any" choice; ``current`` stays listed."""
    values = sorted({*choices, current} - {""})
    options = ['<option value="">any</option>']
    for value in values:
        mark = " selected" if value == current else ""
        options.append(f'<option value="{h(value)}"{mark}>{h(value)}</option>')
    return f'<label>{h(label)}<select name="{h(name)}">{"".join(options)}</select></label>'


def text_input(name: str, label: str, current: str) -> str:
    """A labelled text box."""
    return f'<label>{h(label)}<input name="{h(name)}" value="{h(current)}"></label>'
