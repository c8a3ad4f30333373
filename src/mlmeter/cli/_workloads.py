"""Workloads of ``mlmeter run``: the harness test doubles and the registered benchmarks.

A workload turns parsed options into a SUT, a QSL and default settings. Real
benchmarks (``mlmeter.workloads``, entry-point group ``mlmeter.workloads``, which
plugins use too) also bring a scorer for accuracy mode.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlmeter.cli._extras import require_net
from mlmeter.errors import UsageError
from mlmeter.loadgen import QSL, SUT, TestResult
from mlmeter.settings import Scenario
from mlmeter.suts import FixedLatencySUT, NullQSL, NullSUT
from mlmeter.workloads import Scorer, Target, WorkloadOptions, get
from mlmeter.workloads import Workload as BenchWorkload


@dataclass
class Workload:
    """What ``mlmeter run`` needs from a workload."""

    sut: SUT
    qsl: QSL
    defaults: dict[str, Any] = field(default_factory=dict)  # TestSettings field -> value
    model: str = ""
    scorer: Scorer | None = None
    target: Target | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    framework: str = ""
    # called with (result, outdir) after the run, before close; returns an object with
    # ``lines`` (printed after the report) and ``valid`` (False makes the exit code 1)
    after_run: Callable[[TestResult, Path], Any] | None = None
    system: dict[str, Any] = field(default_factory=dict)  # extra system.json fields
    network_report: Callable[[], dict[str, Any]] | None = None  # network.json, if any

    def close(self) -> None:
        """Release the SUT's threads and the model, if any."""
        close = getattr(self.sut, "close", None)
        if callable(close):
            close()
        for closer in self.closers:
            closer()


def add_options(parser: argparse.ArgumentParser) -> None:
    """Options of the built-in workloads and of the real benchmarks."""
    m = parser.add_argument_group("real benchmarks (see `mlmeter list`)")
    m.add_argument(
        "--backend",
        default=None,
        help="onnxruntime, torch, ... (default: the workload's first backend)",
    )
    m.add_argument("--device", default="cpu", help="cpu or cuda")
    m.add_argument("--threads", type=int, default=1, help="intra-op threads per instance")
    m.add_argument("--batch-size", type=int, default=1, help="largest batch the SUT forms")
    m.add_argument(
        "--max-wait-ms", type=float, default=0.0, help="how long the SUT waits to fill a batch"
    )
    m.add_argument("--instances", type=int, default=1, help="model instances (worker threads)")
    m.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the real data set in its official layout (default: the CI data)",
    )
    m.add_argument(
        "--model-path",
        type=Path,
        default=None,
        help="a model file (PyTorch state dict or ONNX) to use instead",
    )
    n = parser.add_argument_group("network division (the SUT behind HTTP)")
    n.add_argument(
        "--sut",
        default=None,
        metavar="URL[,URL...]",
        help="send queries to `mlmeter serve` endpoints (load balanced), not a local model",
    )
    n.add_argument(
        "--endpoint",
        default=None,
        metavar="URL",
        help="an OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (workload llm)",
    )
    m.add_argument(
        "--option",
        dest="workload_options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a workload-specific option (repeatable), e.g. llm: max_tokens=128, api=completions",
    )
    g = parser.add_argument_group("null and fixed workloads")
    g.add_argument("--service-ms", type=float, default=1.0, help="fixed: service time per sample")
    g.add_argument("--workers", type=int, default=1, help="fixed: worker threads")
    g.add_argument(
        "--distribution",
        default="fixed",
        choices=["fixed", "uniform", "exponential"],
        help="fixed: service-time distribution",
    )
    g.add_argument("--jitter-ms", type=float, default=0.0, help="fixed: uniform jitter")
    g.add_argument("--samples", type=int, default=1024, help="QSL total sample count")
    g.add_argument(
        "--performance-samples",
        type=int,
        default=None,
        help="QSL performance sample count (default: --samples)",
    )


def _network_extra(args: argparse.Namespace) -> dict[str, Any]:
    """``--sut`` (a list of base URLs) and ``--endpoint``, for workloads that use them."""
    if getattr(args, "sut", None) or getattr(args, "endpoint", None):
        require_net("--sut and --endpoint")
    extra: dict[str, Any] = {}
    if getattr(args, "sut", None):
        extra["sut_urls"] = [u.strip() for u in args.sut.split(",") if u.strip()]
    if getattr(args, "endpoint", None):
        extra["endpoint"] = args.endpoint
    if getattr(args, "workload_options", None):
        extra["options"] = list(args.workload_options)
    return extra


def build(name: str, args: argparse.Namespace, scenario: Scenario) -> Workload:
    """The workload called ``name``, ready to run in ``scenario``."""
    if name in ("null", "fixed"):
        if getattr(args, "sut", None):
            raise UsageError(f"--sut: the {name} workload runs in process; name a real workload")
        qsl = NullQSL(args.samples, args.performance_samples)
        if name == "null":
            return Workload(NullSUT(), qsl, _null_defaults(), model="null")
        return _fixed(args, qsl)
    bench = get(name)
    backend = args.backend or bench.backends[0]
    opts = _options(args, backend)
    if opts.extra.get("sut_urls"):
        return _network(name, bench, opts, scenario, args)
    ready = bench.prepare(opts)
    return Workload(
        ready.sut,
        ready.qsl,
        bench.defaults(scenario),
        model=name,
        scorer=ready.scorer,
        target=ready.target,
        closers=ready.closers,
        framework=backend,
        after_run=getattr(ready, "after_run", None),
    )


def benchmark_name(name: str) -> str:
    """The MLPerf benchmark a workload stands for (its ``mlperf_model``); "" for the
    built-in null and fixed SUTs."""
    return "" if name in ("null", "fixed") else get(name).benchmark()


def _options(args: argparse.Namespace, backend: str) -> WorkloadOptions:
    return WorkloadOptions(
        backend=backend,
        device=args.device,
        threads=args.threads,
        batch_size=args.batch_size,
        max_wait_ms=args.max_wait_ms,
        instances=args.instances,
        data_dir=args.data_dir,
        model_path=args.model_path,
        performance_samples=args.performance_samples,
        extra=_network_extra(args),
    )


def _network(
    name: str,
    bench: BenchWorkload,
    opts: WorkloadOptions,
    scenario: Scenario,
    args: argparse.Namespace,
) -> Workload:
    """The network division: the data set and scorer here, the model behind ``--sut``."""
    from mlmeter.suts import HttpSUT, probe

    urls: list[str] = opts.extra["sut_urls"]
    infos = [probe(url) for url in urls]  # fail fast, before loading the data set
    for url, info in zip(urls, infos, strict=True):
        if info.get("workload") != name:
            raise UsageError(f"--sut {url} serves {info.get('workload')!r}, not {name!r}")
    backend = str(infos[0].get("backend") or opts.backend)  # the server's
    local = backend if backend in bench.backends and not args.backend else opts.backend
    data = bench.prepare_data(replace(opts, backend=local))  # sizes the default settings
    model = str(infos[0].get("model", name))
    sut = HttpSUT(
        urls,
        data.inputs,
        name=f"Network SUT ({model} on {backend}) at {', '.join(urls)}",
        batch_size=args.batch_size if args.batch_size > 1 else 0,
    )
    return Workload(
        sut,
        data.qsl,
        bench.defaults(scenario),
        model=name,
        scorer=data.scorer,
        target=data.target,
        closers=[data.close],
        framework=backend,
        system=_network_system(urls, infos),
        network_report=sut.report,
    )


def _network_system(urls: list[str], infos: list[dict[str, Any]]) -> dict[str, Any]:
    """The network fields of system.json: the split and each endpoint's server."""
    keys = ("workload", "model", "backend", "device", "batch_size", "max_wait_ms", "instances")
    return {
        "is_network": True,
        "network_protocol": "HTTP/1.1 (mlmeter batch wire format 1)",
        "network_endpoints": urls,
        "network_sut": [
            {"url": u, **{k: i.get(k) for k in keys}} for u, i in zip(urls, infos, strict=True)
        ],
    }


def _null_defaults() -> dict[str, Any]:
    return {
        "single_stream_expected_latency_ns": 1_000,
        "multi_stream_expected_latency_ns": 2_000,
        "server_target_qps": 10_000.0,
        "offline_expected_qps": 1_000_000.0,
        "min_duration_ms": 5_000,
    }


def _fixed(args: argparse.Namespace, qsl: NullQSL) -> Workload:
    if args.service_ms <= 0 or args.workers < 1:
        raise UsageError("--service-ms must be > 0 and --workers >= 1")
    sut = FixedLatencySUT(
        args.service_ms, args.workers, distribution=args.distribution, jitter_ms=args.jitter_ms
    )
    capacity = args.workers * 1000.0 / args.service_ms
    service_ns = int(args.service_ms * 1e6)
    defaults = {
        "single_stream_expected_latency_ns": service_ns,
        "multi_stream_expected_latency_ns": service_ns * 8 // max(args.workers, 1) + service_ns,
        "server_target_qps": round(0.5 * capacity, 3),
        "server_target_latency_ns": max(10 * service_ns, 10_000_000),
        "offline_expected_qps": capacity,
        "min_duration_ms": 10_000,
    }
    return Workload(sut, qsl, defaults, model="fixed")
