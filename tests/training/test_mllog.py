"""Training MLLOG lines: official format, round trip, flushing, ranks, and the official checker."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlmeter.training import (
    MllogEvent,
    MllogLogger,
    MllogParseError,
    keys,
    parse_mllog_line,
    read_mllog,
)

GOLDEN = Path(__file__).parent / "golden"
T0 = 1760039600000


def _normalise(line: str) -> str:
    """Blank the call site (file, lineno), the only fields that depend on the writer."""
    line = re.sub(r'"file": "[^"]*"', '"file": "F"', line)
    return re.sub(r'"lineno": \d+', '"lineno": 0', line)


def _lines(path: Path) -> list[str]:
    return [_normalise(s) for s in path.read_text(encoding="utf-8").splitlines()]


def _resnet_excerpt(log: MllogLogger) -> None:
    """The events of golden/resnet_v4.0_excerpt.txt (an official sample log)."""
    for key, value in (
        (keys.SUBMISSION_BENCHMARK, keys.RESNET),
        (keys.SUBMISSION_ORG, "ToyOrg"),
        (keys.SUBMISSION_DIVISION, keys.CLOSED),
        (keys.SUBMISSION_STATUS, keys.ONPREM),
        (keys.SUBMISSION_PLATFORM, "toy_system"),
        (keys.CACHE_CLEAR, True),
    ):
        log.event(key, value, time_ms=T0)
    log.start(keys.INIT_START, time_ms=T0)
    log.event(keys.SEED, 11, time_ms=T0)
    log.end(keys.INIT_STOP, time_ms=T0 + 240_000)
    t = T0 + 240_050
    log.start(keys.RUN_START, time_ms=t)
    log.start(keys.BLOCK_START, time_ms=t, first_epoch_num=1, epoch_count=3)
    for epoch in (1, 2, 3):
        log.start(keys.EPOCH_START, time_ms=t, epoch_num=epoch)
        t += 18_400
        log.end(keys.EPOCH_STOP, time_ms=t, epoch_num=epoch)
    log.end(keys.BLOCK_STOP, time_ms=t, first_epoch_num=1)
    log.start(keys.EVAL_START, time_ms=t, epoch_num=3)
    t += 1_500
    log.event(keys.EVAL_ACCURACY, 0.631, time_ms=t, epoch_num=3)
    log.end(keys.EVAL_STOP, time_ms=t, epoch_num=3)
    log.end(keys.RUN_STOP, time_ms=1760040497560, status=keys.SUCCESS)


def test_matches_official_resnet_sample(tmp_path: Path) -> None:
    out = tmp_path / "result_0.txt"
    with MllogLogger(out) as log:
        _resnet_excerpt(log)
    assert _lines(out) == _lines(GOLDEN / "resnet_v4.0_excerpt.txt")


def test_matches_official_samples_count_sample_and_metadata_order(tmp_path: Path) -> None:
    out = tmp_path / "result_0.txt"
    with MllogLogger(out) as log:
        log.start(keys.RUN_START, time_ms=1760025560050)
        log.start(keys.BLOCK_START, time_ms=1760025560050, samples_count=0)
        log.end(keys.BLOCK_STOP, time_ms=1760025676210, samples_count=384)
        log.event(keys.EVAL_ACCURACY, 0.95572, time_ms=1760026033690, samples_count=1536)
        log.end(keys.EVAL_STOP, time_ms=1760026534330, samples_count=3072)
        log.end(keys.RUN_STOP, time_ms=1760026534340, status="success", samples_count=3072)
    assert _lines(out) == _lines(GOLDEN / "llama2_70b_lora_v6.0_excerpt.txt")


def test_call_site_and_root_dir(tmp_path: Path) -> None:
    buf = io.StringIO()
    line = _this_line() + 1
    MllogLogger(buf, root_dir=Path(__file__).parent).event("seed", 1)
    meta = json.loads(buf.getvalue().removeprefix(":::MLLOG "))["metadata"]
    assert meta == {"file": Path(__file__).name, "lineno": line}


def _this_line() -> int:
    return sys._getframe(1).f_lineno


def test_wrapper_stack_offset_and_clock() -> None:
    buf = io.StringIO()
    log = MllogLogger(buf, clock=lambda: 42, namespace="worker0")

    def wrapper() -> None:
        log.event("k", stack_offset=1)

    line = _this_line() + 1
    wrapper()
    event = parse_mllog_line(buf.getvalue())
    assert event is not None
    assert (event.lineno, event.time_ms, event.namespace) == (line, 42, "worker0")


def test_same_bytes_as_official_library() -> None:
    mllog = pytest.importorskip("mlperf_logging.mllog.mllog")
    official_buf, ours_buf = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(official_buf)
    pylogger = logging.getLogger("mlmeter-test-official")
    pylogger.propagate, pylogger.handlers = False, [handler]
    pylogger.setLevel(logging.INFO)
    official = mllog.MLLogger(logger=pylogger)
    ours = MllogLogger(ours_buf)
    values: list[object] = [
        "s",
        1,
        0.1,
        5e-05,
        True,
        None,
        [1, 2],
        {"a": 1},
        np.int64(3),
        np.float32(0.5),
        np.arange(2),
        'é"\n',
    ]
    for v in values:
        for o, kind in ((official.event, ours.event), (official.start, ours.start)):
            o("k", v, metadata={"epoch_num": 2, "metric": "x"}, time_ms=7)
            kind("k", v, epoch_num=2, metadata={"metric": "x"}, time_ms=7)
    ours.end("run_stop", time_ms=9, status="aborted")
    official.end("run_stop", metadata={"status": "aborted"}, time_ms=9)
    official_lines = official_buf.getvalue().splitlines()
    assert [_normalise(s) for s in ours_buf.getvalue().splitlines()] == [
        _normalise(s) for s in official_lines
    ]


def test_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "logs" / "result_0.txt"
    with MllogLogger(out) as log:
        _resnet_excerpt(log)
    events = read_mllog(out)
    assert [e.to_line() for e in events] == out.read_text(encoding="utf-8").splitlines()
    assert events[0] == MllogEvent(
        "submission_benchmark",
        "resnet",
        T0,
        "POINT_IN_TIME",
        "",
        {"file": __file__, "lineno": events[0].lineno},
    )
    stop = events[-1]
    assert (stop.key, stop.event_type, stop.status, stop.value) == (
        "run_stop",
        "INTERVAL_END",
        "success",
        None,
    )
    acc = next(e for e in events if e.key == keys.EVAL_ACCURACY)
    assert (acc.value, acc.epoch_num, acc.samples_count) == (0.631, 3, None)


def test_reader_skips_other_lines_and_prefixes(tmp_path: Path) -> None:
    event = MllogEvent("seed", 5, time_ms=1, metadata={"file": "a.py", "lineno": 3})
    path = tmp_path / "log.txt"
    path.write_bytes(
        b"starting...\n\xff\xfe binary noise\n"
        + f"[1,0]<stdout>:{event.to_line()}\n".encode()
        + b"MLLOG without the marker\n"
    )
    assert read_mllog(path) == [event]


def test_reader_names_the_bad_line(tmp_path: Path) -> None:
    good = MllogEvent("seed", 5).to_line()
    path = tmp_path / "log.txt"
    path.write_text(f"{good}\n{good[:30]}\n", encoding="utf-8")
    with pytest.raises(MllogParseError, match=r"log\.txt:2: "):
        read_mllog(path)
    assert len(read_mllog(path, strict=False)) == 1
    with pytest.raises(MllogParseError):
        parse_mllog_line(':::MLLOG {"key": "k", "time_ms": 1, "event_type": "BAD"}')


def test_event_validates() -> None:
    with pytest.raises(ValueError, match="event_type"):
        MllogEvent("k", event_type="NOPE")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_ms"):
        MllogEvent("k", time_ms=1.5)  # type: ignore[arg-type]


def test_every_line_is_flushed_before_close(tmp_path: Path) -> None:
    out = tmp_path / "result_0.txt"
    log = MllogLogger(out)
    log.start(keys.INIT_START, time_ms=1)
    assert len(read_mllog(out)) == 1  # another reader sees it while the file is open
    log.event(keys.SEED, 3, time_ms=2)
    assert [e.key for e in read_mllog(out)] == ["init_start", "seed"]
    log.close()


def test_flushed_lines_survive_a_crash(tmp_path: Path) -> None:
    out = tmp_path / "result_0.txt"
    script = (
        "import os\n"
        "from mlmeter.training import MllogLogger\n"
        f"log = MllogLogger({str(out)!r})\n"
        "log.start('run_start')\n"
        "log.event('eval_accuracy', 0.5, epoch_num=1)\n"
        "os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == 9
    assert [e.key for e in read_mllog(out)] == ["run_start", "eval_accuracy"]


def test_only_rank_zero_writes(tmp_path: Path) -> None:
    for rank in (0, 1, 7):
        with MllogLogger(tmp_path / f"rank{rank}.txt", rank=rank) as log:
            log.event(keys.SEED, rank)
            log.start(keys.RUN_START)
            log.end(keys.RUN_STOP, status="success")
    assert len(read_mllog(tmp_path / "rank0.txt")) == 3
    assert not (tmp_path / "rank1.txt").exists()
    assert not (tmp_path / "rank7.txt").exists()
    buf = io.StringIO()
    MllogLogger(buf, rank=3).event("seed", 1)
    assert buf.getvalue() == ""
    MllogLogger(buf, rank=None).event("seed", 1)
    assert buf.getvalue().startswith(":::MLLOG ")


def test_metadata_given_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="epoch_num"):
        MllogLogger(io.StringIO()).event("k", epoch_num=1, metadata={"epoch_num": 2})


def test_caller_stream_stays_open() -> None:
    buf = io.StringIO()
    with MllogLogger(buf) as log:
        log.event("k")
    assert not buf.closed


# -- the official compliance checker as an oracle -----------------------------------------

LARS = {
    keys.LARS_OPT_BASE_LEARNING_RATE: 10.5,
    keys.LARS_OPT_END_LR: 0.0001,
    keys.LARS_OPT_LR_DECAY_POLY_POWER: 2,
    keys.LARS_OPT_LR_DECAY_STEPS: 13755,
    keys.LARS_EPSILON: 0.0,
    keys.LARS_OPT_LEARNING_RATE_WARMUP_EPOCHS: 2,
    keys.LARS_OPT_MOMENTUM: 0.9,
    keys.LARS_OPT_WEIGHT_DECAY: 5e-05,
}


def _resnet_run(log: MllogLogger, *, status: str = keys.SUCCESS) -> None:
    """A complete closed resnet run (ruleset 4.0.0): LARS, eval every 4 epochs from 3."""
    for key, value in (
        (keys.SUBMISSION_BENCHMARK, keys.RESNET),
        (keys.SUBMISSION_ORG, "mlmeter"),
        (keys.SUBMISSION_DIVISION, keys.CLOSED),
        (keys.SUBMISSION_STATUS, keys.ONPREM),
        (keys.SUBMISSION_PLATFORM, "toy_system"),
    ):
        log.event(key, value, time_ms=T0)
    log.event(keys.CACHE_CLEAR, True, time_ms=T0)
    log.start(keys.INIT_START, time_ms=T0)
    hyper: tuple[tuple[str, object], ...] = (
        (keys.SEED, 12345),
        (keys.GLOBAL_BATCH_SIZE, 3264),
        (keys.GRADIENT_ACCUMULATION_STEPS, 1),
        (keys.OPT_NAME, keys.LARS),
        *LARS.items(),
        (keys.MODEL_BN_SPAN, 204),
        (keys.TRAIN_SAMPLES, 1281167),
        (keys.EVAL_SAMPLES, 50000),
    )
    for name, setting in hyper:
        log.event(name, setting, time_ms=T0)
    log.end(keys.INIT_STOP, time_ms=T0 + 240_000)
    t = T0 + 240_050
    log.start(keys.RUN_START, time_ms=t)
    first, accuracy = 1, 0.70
    for last in (3, 7, 11, 15, 19, 23, 27, 31, 35):
        log.start(keys.BLOCK_START, time_ms=t, first_epoch_num=first, epoch_count=last - first + 1)
        for epoch in range(first, last + 1):
            log.start(keys.EPOCH_START, time_ms=t, epoch_num=epoch)
            t += 18_400
            log.end(keys.EPOCH_STOP, time_ms=t, epoch_num=epoch)
        log.end(keys.BLOCK_STOP, time_ms=t, first_epoch_num=first)
        log.start(keys.EVAL_START, time_ms=t, epoch_num=last)
        t += 1_500
        accuracy = 0.7595 if last == 35 else 0.60 + last / 300
        log.event(keys.EVAL_ACCURACY, accuracy, time_ms=t, epoch_num=last)
        log.end(keys.EVAL_STOP, time_ms=t, epoch_num=last)
        first = last + 1
    log.end(keys.RUN_STOP, time_ms=t + 10, status=status)


def _check(log_path: Path, ruleset: str = "4.0.0") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mlperf_logging.compliance_checker",
            "--usage",
            "training",
            "--ruleset",
            ruleset,
            "--log_output",
            str(log_path.with_suffix(".checker.log")),
            str(log_path),
        ],
        cwd=log_path.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_complete_resnet_log_passes_official_compliance_checker(tmp_path: Path) -> None:
    pytest.importorskip("mlperf_logging")
    log_path = tmp_path / "result_0.txt"
    with MllogLogger(log_path) as log:
        _resnet_run(log)
    events = read_mllog(log_path)
    accuracies = [e.value for e in events if e.key == keys.EVAL_ACCURACY]
    assert accuracies[-1] == pytest.approx(0.7595)
    assert all(isinstance(a, float) and a < 0.759 for a in accuracies[:-1])
    proc = _check(log_path)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "SUCCESS" in text
    assert "FAILED" not in text


def test_official_checker_rejects_run_stop_without_status(tmp_path: Path) -> None:
    """The oracle is live: the same log without run_stop's status fails."""
    pytest.importorskip("mlperf_logging")
    log_path = tmp_path / "result_0.txt"
    with MllogLogger(log_path) as log:
        _resnet_run(log)
    lines = log_path.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace(', "status": "success"', "")
    log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = _check(log_path)
    assert proc.returncode != 0
    assert "FAILED" in proc.stdout + proc.stderr
