"""``mlmeter power``: power-measurement tools (``fake-ptd``: a fake PTDaemon analyzer).

``mlmeter power fake-ptd --port N`` speaks PTDaemon's TCP protocol on loopback with its exact
reply strings, writes the sample log (``--log``) and injects faults on request
(``--fault drop|garbage|silence[:after=N]|skew:SECONDS``, repeatable). It prints
``fake-ptd at HOST:PORT`` once listening; Ctrl-C or SIGTERM stops it (exit 0). It is a test
double for ``--power ptd://HOST:PORT``, never a stand-in for PTDaemon in a submission.
"""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType
from typing import Any

from mlmeter.errors import UsageError


def add_parser(sub: Any) -> None:
    """Register ``power`` and its sub-subcommands on the top-level sub-parsers."""
    p = sub.add_parser("power", help="power-measurement tools", description=__doc__)
    inner = p.add_subparsers(dest="power_command", required=True)
    q = inner.add_parser(
        "fake-ptd", help="a fake PTDaemon analyzer on loopback", description=__doc__
    )
    _fake_ptd_arguments(q)
    q.set_defaults(func=fake_ptd)


def _fake_ptd_arguments(q: argparse.ArgumentParser) -> None:
    q.add_argument("--host", default="127.0.0.1", help="address to listen on")
    q.add_argument("--port", type=int, default=8888, help="TCP port (0: any free port)")
    q.add_argument("--log", default=None, help="PTDaemon's sample log file (-l), appended")
    q.add_argument(
        "--interval-ms", type=int, default=1000, help="sample interval for a Go without one"
    )
    q.add_argument(
        "--time-scale", type=float, default=1.0, help="meter time runs this many times faster"
    )
    q.add_argument(
        "--fault",
        action="append",
        default=[],
        help="drop|garbage|silence[:after=N]|skew:SECONDS (repeatable)",
    )


def fake_ptd(args: argparse.Namespace) -> int:
    """Serve the fake analyzer until Ctrl-C or SIGTERM."""
    from mlmeter.power._fake_ptd import FakePtd, parse_fault, serve_main

    if args.time_scale <= 0 or args.interval_ms <= 0:
        raise UsageError("--time-scale and --interval-ms must be positive")
    faults = [parse_fault(text) for text in args.fault]
    try:
        server = FakePtd(
            args.host,
            args.port,
            log_path=args.log,
            interval_ms=args.interval_ms,
            time_scale=args.time_scale,
            faults=faults,
            out=sys.stdout,
        )
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc}); use --port") from None

    def on_term(signum: int, frame: FrameType | None) -> None:
        server.shutdown()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return serve_main(server)
    finally:
        signal.signal(signal.SIGTERM, previous)
