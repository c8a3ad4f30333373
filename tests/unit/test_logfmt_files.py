"""Atomic writes, the accuracy log, the detail log and the trace (beyond the goldens)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlmeter.errors import UserError
from mlmeter.logfmt import (
    AccuracyEntry,
    LogRecord,
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    log_paths,
    read_accuracy_log,
    read_detail,
    write_accuracy_log,
    write_detail,
    write_trace,
)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")
    atomic_write_text(path, "new\n")
    atomic_write_bytes(tmp_path / "g.bin", b"\x00\x01")
    assert path.read_bytes() == b"new\n"
    assert (tmp_path / "g.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "g.bin"]


def test_atomic_writer_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(path) as f:
        f.write("half")
        raise RuntimeError("disk on fire")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_files_get_normal_permissions(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    atomic_write_text(path, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_empty_accuracy_log(tmp_path: Path) -> None:
    path = tmp_path / "acc.json"
    assert write_accuracy_log(path, []) == 0
    assert path.read_bytes() == b"[\n]\n"
    assert read_accuracy_log(path) == []


def test_accuracy_log_round_trip_from_a_generator(tmp_path: Path) -> None:
    def entries() -> Iterator[AccuracyEntry]:
        for i in range(1000):
            yield AccuracyEntry(i, i % 7, bytes([i % 256, 0xAB]), token_count=i if i % 2 else None)

    path = tmp_path / "acc.json"
    assert write_accuracy_log(path, entries()) == 1000
    back = read_accuracy_log(path)
    assert back == list(entries())[: len(back)] and len(back) == 1000
    assert '"data" : "01AB"' in path.read_text()  # upper-case hex


def test_accuracy_log_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "acc.json"
    path.write_text('[{"seq_id": 0}]')
    with pytest.raises(UserError, match="entry 0"):
        read_accuracy_log(path)


def test_read_detail_takes_the_first_occurrence(tmp_path: Path) -> None:
    path = tmp_path / "detail.txt"
    records = [
        LogRecord("generated_query_count", 10, 0),
        LogRecord("loaded_qsl_set", [1, 2], 1),
        LogRecord("generated_query_count", 20, 2),
        LogRecord("error_runtime", "bad", 3, is_error=True),
    ]
    write_detail(path, records, pid=7, tid=8)
    assert read_detail(path) == {
        "generated_query_count": 10,
        "loaded_qsl_set": [1, 2],
        "error_runtime": "bad",
    }
    line = path.read_text().splitlines()[3]
    assert json.loads(line[len(":::MLLOG ") :])["metadata"] == {
        "is_error": True,
        "is_warning": False,
        "file": "loadgen.py",
        "line_no": 0,
        "pid": 7,
        "tid": 8,
    }


def test_read_detail_needs_the_marker_on_line_one(tmp_path: Path) -> None:
    path = tmp_path / "detail.txt"
    path.write_text('{"key": "x"}\n')
    with pytest.raises(UserError, match="line 1"):
        read_detail(path)


def test_trace_is_valid_json_with_one_pair_per_answered_sample(tmp_path: Path) -> None:
    n = 40_000  # more than one chunk
    issue = np.arange(n, dtype=np.int64) * 1000 + 5
    complete = issue + 700
    complete[3] = -1  # never answered
    issue[4] = -1  # never issued
    path = tmp_path / "trace.json"
    written = write_trace(
        path,
        origin_ns=0,
        sample_seq=np.arange(n),
        query_seq=np.arange(n) // 2,
        sample_index=np.arange(n) % 13,
        issue_ns=issue,
        complete_ns=complete,
    )
    events = json.loads(path.read_text())["traceEvents"]
    assert written == n - 1
    begins = [e for e in events if e.get("ph") == "b"]
    ends = [e for e in events if e.get("ph") == "e"]
    assert len(begins) == n - 1 and len(ends) == n - 2
    assert events[-1] == {"name": "LastTrace"}
    first = begins[0]
    assert first["ts"] == 0.005 and first["args"] == {
        "sample_seq": 0,
        "query_seq": 0,
        "sample_idx": 0,
        "issue_start_ns": 0,
        "complete_ns": 700,
    }


def test_trace_rejects_ragged_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one length"):
        write_trace(
            tmp_path / "t.json",
            origin_ns=0,
            sample_seq=[0, 1],
            query_seq=[0],
            sample_index=[0, 1],
            issue_ns=[0, 1],
            complete_ns=[0, 1],
        )


def test_official_file_names(tmp_path: Path) -> None:
    paths = log_paths(tmp_path)
    assert paths.summary == tmp_path / "mlperf_log_summary.txt"
    assert paths.detail.name == "mlperf_log_detail.txt"
    assert paths.accuracy.name == "mlperf_log_accuracy.json"
    assert log_paths(tmp_path, "run_", "_1").trace.name == "run_trace_1.json"
