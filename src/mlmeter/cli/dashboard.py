"""``mlmeter dashboard``: a read-only web page over the results store, on loopback.

Runs and systems with filters, a side-by-side comparison of picked runs, plots
(throughput against latency, results over time) and the runs' logs. Prints
``dashboard at http://HOST:PORT`` once listening (open it by that address or as
``localhost``: requests naming another host are refused); Ctrl-C or SIGTERM stops it (exit 0).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from mlmeter.cli._extras import require_net


def add_parser(sub: Any) -> None:
    """Register ``dashboard`` on the top-level sub-parsers."""
    p = sub.add_parser("dashboard", help="browse the results store in a web page",
                       description=__doc__)  # fmt: skip
    db_help = "results database: a file, sqlite:///PATH or postgresql://... (default: "
    db_help += "$MLMETER_DB, else ~/.local/share/mlmeter/results.db)"
    p.add_argument("--db", default=None, metavar="URL", help=db_help)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    p.add_argument("--port", type=int, default=8050, help="TCP port (0: any free port)")
    p.set_defaults(func=run)


def hosts_for(host: str) -> list[str]:
    """The ``Host:`` names the dashboard answers: loopback names, the address it listens
    on, and any name when it listens on every address or on IPv6."""
    if host in ("0.0.0.0", "") or ":" in host:
        return ["*"]
    return sorted({"127.0.0.1", "localhost", host})


def run(args: argparse.Namespace) -> int:
    """Serve the dashboard until interrupted."""
    require_net("mlmeter dashboard")
    from mlmeter.dashboard import dashboard_app
    from mlmeter.results import open_store
    from mlmeter.suts._uvicorn import base_url, bind, serve_forever

    with open_store(args.db) as store:
        sock = bind(args.host, args.port)
        url = base_url(sock)

        def started(_: Callable[[], None]) -> None:
            print(f"dashboard at {url}", flush=True)

        serve_forever(dashboard_app(store, hosts_for(args.host)), sock, started)
    print("dashboard stopped", file=sys.stderr, flush=True)
    return 0
