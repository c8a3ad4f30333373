"""``mlmeter serve WORKLOAD``: a workload's model behind HTTP, for ``mlmeter run --sut URL``.

Prints ``serving WORKLOAD at http://HOST:PORT`` once the socket listens (``--port 0``
picks a free port), loads the model (``GET /ready`` answers 503 until then), and serves
until SIGINT or SIGTERM. Target options (``--set``): ``model_path=PATH`` (the model
file, as ``mlmeter run --model-path``), ``fail_every=N`` (answer every Nth inference
request with HTTP 500, to test clients); any other key goes to the workload's options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError
from mlmeter.suts import InferenceServer, Runner
from mlmeter.workloads import WorkloadOptions, get


def serve(args: argparse.Namespace) -> int:
    """Serve ``args.target`` until interrupted; 0 after a clean shutdown."""
    bench = get(args.target)
    options = _target_options(args.set)
    fail_every = _int_option(options.pop("fail_every", "0"), "fail_every")
    opts = _workload_options(args, bench.backends[0], options)
    if opts.backend not in bench.backends:
        raise UsageError(
            f"unknown backend {opts.backend!r}: use --backend {' or '.join(bench.backends)}"
        )
    closers: list[Callable[[], None]] = []

    def load() -> tuple[Sequence[Runner], Mapping[str, Any]]:
        served = bench.serving(opts)
        closers.extend(served.closers)
        return served.runners, {"model": served.model}

    info = {"workload": args.target, "backend": opts.backend, "device": opts.device}
    server = InferenceServer(
        load,
        batch_size=opts.batch_size,
        max_wait_ms=opts.max_wait_ms,
        info={**info, "threads": opts.threads, "instances": opts.instances},
        fail_every=fail_every,
    )
    try:
        server.serve(args.host, args.port, lambda url: _announce(args.target, url))
    finally:
        for close in closers:
            close()
    return 0


def _announce(target: str, url: str) -> None:
    print(f"serving {target} at {url}", flush=True)


def _workload_options(
    args: argparse.Namespace, default_backend: str, options: dict[str, str]
) -> WorkloadOptions:
    if args.batch_size < 1 or args.max_wait_ms < 0 or args.instances < 1 or args.threads < 1:
        raise UsageError(
            "need --batch-size >= 1, --max-wait-ms >= 0, --instances >= 1 and --threads >= 1"
        )
    model_path = options.pop("model_path", None)
    return WorkloadOptions(
        backend=args.backend or default_backend,
        device=args.device,
        threads=args.threads,
        batch_size=args.batch_size,
        max_wait_ms=args.max_wait_ms,
        instances=args.instances,
        model_path=Path(model_path) if model_path else None,
        extra=dict(options),
    )


def _target_options(items: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: use --set KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _int_option(value: str, key: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise UsageError(f"--set {key}={value}: use a whole number >= 0")
    return number
