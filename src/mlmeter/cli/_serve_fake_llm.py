"""``mlmeter serve fake-llm``: the fake token server (exact delays, injectable faults).

Every option is ``--set KEY=VALUE``; ``mlmeter.suts._fake_llm`` lists them. Prints
``serving fake-llm at http://HOST:PORT/v1`` once listening, then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from mlmeter.suts._fake_llm import FakeTokenSource, parse_options
from mlmeter.suts._openai_server import openai_app
from mlmeter.suts._uvicorn import base_url, bind, serve_forever


def serve(args: argparse.Namespace) -> int:
    """Serve the fake token server until interrupted."""
    source = FakeTokenSource(parse_options(args.set))
    sock = bind(args.host, args.port)
    url = base_url(sock) + "/v1"

    def started(_: Callable[[], None]) -> None:
        print(f"serving fake-llm at {url}", flush=True)

    serve_forever(openai_app(source), sock, started)
    print("fake-llm stopped", file=sys.stderr, flush=True)
    return 0
