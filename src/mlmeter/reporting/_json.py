"""The JSON exporter: ``Report.to_dict()``, the data every other exporter shows."""

from __future__ import annotations

import json

from mlmeter.reporting._model import Report


def render_json(report: Report) -> str:
    """The versioned report document, indented."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False, default=str) + "\n"
