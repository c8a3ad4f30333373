"""Reports of finished runs: one page (or table) for one run or several side by side.

The pipeline is ``load_runs(paths)`` (run folders -> ``RunData``), ``build_report(runs)``
(-> ``Report``, the exported data), then an ``Exporter`` (``html``, ``json``, ``csv``,
``md``) renders it. The HTML page is self-contained and works offline; its plots
(latency histogram and CDF, throughput and outstanding queries over time) are SVG drawn
from the report data, which needs per-sample timings (``mlmeter run --trace``).
"""

from mlmeter.reporting._accuracy import AccuracyInfo
from mlmeter.reporting._export import (
    EXPORTERS,
    Exporter,
    exporter_for,
    exporter_names,
    get_exporter,
)
from mlmeter.reporting._load import RunData, load_run, load_runs
from mlmeter.reporting._model import (
    REPORT_FORMAT,
    REPORT_VERSION,
    CheckRow,
    Report,
    RunPlots,
    RunReport,
    SummaryRow,
    build_report,
)
from mlmeter.reporting._series import Curve, Histogram
from mlmeter.reporting._submission_export import (
    TABLE_EXPORTERS,
    TableExporter,
    get_table_exporter,
)
from mlmeter.reporting._submission_table import (
    TABLE_FORMAT,
    TABLE_VERSION,
    SubmissionTable,
    TableRow,
    build_table,
)
from mlmeter.reporting._timings import SampleTimings, read_timings

__all__ = [
    "EXPORTERS",
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "TABLE_EXPORTERS",
    "TABLE_FORMAT",
    "TABLE_VERSION",
    "AccuracyInfo",
    "CheckRow",
    "Curve",
    "Exporter",
    "Histogram",
    "Report",
    "RunData",
    "RunPlots",
    "RunReport",
    "SampleTimings",
    "SubmissionTable",
    "SummaryRow",
    "TableExporter",
    "TableRow",
    "build_report",
    "build_table",
    "exporter_for",
    "exporter_names",
    "get_exporter",
    "get_table_exporter",
    "load_run",
    "load_runs",
    "read_timings",
]
