"""Built-in workloads of ``mlmeter run``: the harness test doubles.

A workload turns parsed options into a SUT, a QSL and default settings. Real
benchmarks (later) and plugins (entry-point group ``mlmeter.workloads``) add more.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from mlmeter.loadgen import QSL, SUT
from mlmeter.suts import FixedLatencySUT, NullQSL, NullSUT


@dataclass
class Workload:
    """What ``mlmeter run`` needs from a workload."""

    sut: SUT
    qsl: QSL
    defaults: dict[str, Any] = field(default_factory=dict)  # TestSettings field -> value
    model: str = ""

    def close(self) -> None:
        """Release the SUT's threads, if any."""
        close = getattr(self.sut, "close", None)
        if callable(close):
            close()


def add_options(parser: argparse.ArgumentParser) -> None:
    """Options of the built-in workloads."""
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


def build(name: str, args: argparse.Namespace) -> Workload:
    """The workload called ``name``."""
    qsl = NullQSL(args.samples, args.performance_samples)
    if name == "null":
        return Workload(NullSUT(), qsl, _null_defaults(), model="null")
    if name == "fixed":
        return _fixed(args, qsl)
    from mlmeter.errors import UsageError
    from mlmeter.plugins import discover

    plugins = discover("mlmeter.workloads")
    if name in plugins:
        factory = plugins[name].load()
        built: Workload = factory(args)
        return built
    names = ", ".join(["null", "fixed", *sorted(plugins)])
    raise UsageError(f"unknown workload {name!r}: use one of {names}")


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
        from mlmeter.errors import UsageError

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
