"""``mlmeter serve TARGET``: put a system under test behind HTTP on this machine.

Targets: any inference workload (``mlmeter list``), ``llm`` (SmolLM2-135M, an
OpenAI-compatible streaming server) and ``fake-llm`` (a token server with configurable
delays and injectable faults, for measuring the measurer). Target-specific options are
``--set KEY=VALUE``. Every server answers ``GET /health`` (alive) and ``GET /ready``
(model loaded).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from mlmeter.cli._extras import require_net


def add_parser(sub: Any) -> None:
    """Register ``serve`` on the top-level sub-parsers."""
    p = sub.add_parser("serve", help="serve a workload or an LLM over HTTP", description=__doc__)
    p.add_argument("target", help="a workload name, llm or fake-llm")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    p.add_argument("--backend", default=None, help="the workload's backend")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per instance")
    p.add_argument("--batch-size", type=int, default=1, help="largest batch the server forms")
    p.add_argument("--max-wait-ms", type=float, default=0.0, help="how long to wait for a batch")
    p.add_argument("--instances", type=int, default=1, help="model instances")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a target option (repeatable)")  # fmt: skip
    p.set_defaults(func=run)


_TARGETS = {"fake-llm": "_serve_fake_llm", "llm": "_serve_llm"}


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (each target's module is imported only when used)."""
    require_net(f"mlmeter serve {args.target}")
    module = importlib.import_module(f"mlmeter.cli.{_TARGETS.get(args.target, '_serve_workload')}")
    code: int = module.serve(args)
    return code
