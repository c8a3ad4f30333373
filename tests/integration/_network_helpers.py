"""The network-division harness the ``test_serve_*`` and ``test_network_workloads`` tests
share: a workload's own ``serving()`` behind an in-process ``InferenceServer``, a quiet
``mlmeter run``, and what the run scored.

Import it from a test beside it as ``import _network_helpers`` (pytest puts the test's folder
on ``sys.path``, as for ``tests/submission/trees.py``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlmeter.cli.main import main
from mlmeter.suts import InferenceServer, Runner
from mlmeter.workloads import WorkloadOptions, get


@contextlib.contextmanager
def serve(name: str, opts: WorkloadOptions) -> Iterator[str]:
    """What ``mlmeter serve NAME`` runs, in this process, on a free port: its URL. The
    served runners are closed after the server stops."""
    closers: list[Any] = []

    def load() -> tuple[Sequence[Runner], Mapping[str, Any]]:
        served = get(name).serving(opts)
        closers.extend(served.closers)
        return served.runners, {"model": served.model}

    info = {"workload": name, "backend": opts.backend, "device": opts.device}
    with InferenceServer(load, info=info) as server:
        yield server.start()
    for close in closers:
        close()


def run(name: str, outdir: Path, *args: str) -> int:
    """``mlmeter run NAME --quiet --output OUTDIR ARGS...``: its exit code."""
    return main(["run", name, "--quiet", "--output", str(outdir), *args])


def scored(outdir: Path) -> tuple[str, dict[int, str]]:
    """The accuracy.txt head line and the logged bytes (hex) per sample."""
    first = (outdir / "accuracy.txt").read_text().splitlines()[0]
    entries = json.loads((outdir / "mlperf_log_accuracy.json").read_text())
    return first, {e["qsl_idx"]: e["data"] for e in entries}


def accuracy_net_and_local(
    name: str, url: str, tmp_path: Path
) -> tuple[tuple[str, dict[int, str]], tuple[str, dict[int, str]]]:
    """Accuracy runs of ``name`` against ``url`` and locally (each exits 0): what each
    scored, as ``scored`` gives it."""
    net, local = tmp_path / "net", tmp_path / "local"
    assert run(name, net, "--sut", url, "--mode", "accuracy") == 0
    assert run(name, local, "--mode", "accuracy") == 0
    return scored(net), scored(local)
