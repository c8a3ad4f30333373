"""One small interface for every output format: ``Exporter(name, suffix, render)``.

The built-in exporters are ``html``, ``json``, ``csv`` and ``md``; a package adds one by
registering an ``Exporter`` in the ``mlmeter.exporters`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlmeter.errors import UsageError
from mlmeter.plugins import discover
from mlmeter.reporting._csv import render_csv
from mlmeter.reporting._html import render_html
from mlmeter.reporting._json import render_json
from mlmeter.reporting._markdown import render_markdown
from mlmeter.reporting._model import Report


@dataclass(frozen=True)
class Exporter:
    """Renders a whole report as the text of one file."""

    name: str
    suffix: str  # the file name ending it is chosen for, e.g. ".html"
    render: Callable[[Report], str]


EXPORTERS: dict[str, Exporter] = {
    e.name: e
    for e in (
        Exporter("html", ".html", render_html),
        Exporter("json", ".json", render_json),
        Exporter("csv", ".csv", render_csv),
        Exporter("md", ".md", render_markdown),
    )
}


def exporter_names() -> list[str]:
    """The built-in formats, then those of installed plugins."""
    return [*EXPORTERS, *sorted(set(discover("mlmeter.exporters")) - set(EXPORTERS))]


def get_exporter(name: str) -> Exporter:
    """The exporter called ``name`` (built-ins win over plugins); a UsageError lists the
    choices."""
    if name in EXPORTERS:
        return EXPORTERS[name]
    plugins = discover("mlmeter.exporters")
    if name not in plugins:
        choices = " or ".join(exporter_names())
        raise UsageError(f"unknown report format {name!r}: use --format {choices}")
    exporter = plugins[name].load()
    if not isinstance(exporter, Exporter):
        raise UsageError(f"the report format plugin {name!r} is not an mlmeter Exporter")
    return exporter


def exporter_for(path: str | Path | None, default: str = "md") -> Exporter:
    """The exporter whose suffix ``path`` ends with (``.htm`` is HTML), else ``default``."""
    suffix = "" if path is None else Path(path).suffix.lower()
    suffix = ".html" if suffix == ".htm" else suffix
    for exporter in EXPORTERS.values():
        if suffix == exporter.suffix:
            return exporter
    return get_exporter("html" if path is not None else default)
