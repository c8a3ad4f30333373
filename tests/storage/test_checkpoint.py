"""``mlmeter storage checkpoint``: sizes from a model's shape, a real write/read, errors, golden."""

from __future__ import annotations

import argparse
import errno
import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _golden import check_golden
from mlmeter.errors import RunError, UsageError, UserError
from mlmeter.storage import _checkpoint, _shards
from mlmeter.storage._checkpoint import CheckpointConfig, run_local_ranks
from mlmeter.storage._checkpoint_io import FileIO
from mlmeter.storage._checkpoint_report import build_summary, write_summary
from mlmeter.storage._checkpoint_sizes import checkpoint_bytes, num_parameters
from mlmeter.storage._specs import CheckpointModel, load_checkpoint_model

pytestmark = pytest.mark.timeout(60)
TINY = CheckpointModel("tiny", 64, 128, 8, 2, 5, 100, tp=2, pp=2, dp=2, zero_stage=1, processes=8)


def params_by_tensor(m: CheckpointModel) -> dict[str, int]:
    """The model's tensors and their sizes, listed one by one (independent of the code)."""
    h, kv_dim = m.hidden, m.hidden // m.heads * m.kv_heads
    out = {"embed": m.vocab * h, "final_norm": h, "lm_head": m.vocab * h}
    for i in range(m.layers):
        sizes = {"q": h * h, "k": h * kv_dim, "v": h * kv_dim, "o": h * h, "in_norm": h}
        sizes |= {"gate": h * m.ffn, "up": h * m.ffn, "down": m.ffn * h, "post_norm": h}
        out |= {f"l{i}.{k}": v for k, v in sizes.items()}
    return out


def norm_params(m: CheckpointModel) -> int:
    return sum(v for k, v in params_by_tensor(m).items() if k.endswith("norm"))


def totals(m: CheckpointModel) -> tuple[int, int]:
    """The checkpoint's model and optimizer bytes; the shards are its per-rank sizes."""
    c = checkpoint_bytes(m)
    shards = [_shards.shard(m, w) for w in range(m.processes)]
    assert [(s.model_bytes, s.optim_bytes) for s in shards] == list(c.per_rank)
    assert [s.world_rank for s in shards] == list(range(m.processes))
    return c.model_bytes, c.optimizer_bytes


# ------------------------------------------------------------------ sizes


def test_parameter_count_of_a_made_up_shape() -> None:
    assert num_parameters(TINY) == sum(params_by_tensor(TINY).values())


@settings(max_examples=60, deadline=None)
@given(
    h8=st.integers(1, 32),
    ffn8=st.integers(1, 64),
    layers=st.integers(1, 12),
    vocab8=st.integers(1, 64),
    tp=st.sampled_from([1, 2, 4, 8]),
    pp=st.integers(1, 4),
    dp=st.sampled_from([1, 2, 4]),
    zero=st.sampled_from([0, 1, 2, 3]),
)
def test_shards_add_up_to_the_checkpoint(
    h8: int, ffn8: int, layers: int, vocab8: int, tp: int, pp: int, dp: int, zero: int
) -> None:
    # dimensions are multiples of 8 x dp so that every split is exact
    h, ffn, vocab = 8 * dp * h8, 8 * dp * ffn8, 8 * dp * vocab8
    m = CheckpointModel("m", h, ffn, 8, 2, layers, vocab, tp, pp, dp, zero, tp * pp * dp)
    p = sum(params_by_tensor(m).values())
    held = p + (tp - 1) * norm_params(m)  # TP splits matrices; every TP rank keeps the norms
    model, optim = totals(m)
    assert model == 2 * held  # ZeRO-3 splits it over DP; below it DP rank 0 alone writes it
    assert optim == (12 * (p // m.processes) * m.processes if zero >= 1 else 12 * held)
    assert checkpoint_bytes(m).params == p


def test_llama3_8b_is_the_official_105_gb() -> None:
    m = load_checkpoint_model("llama3-8b")
    p = sum(params_by_tensor(m).values())
    total = checkpoint_bytes(m).total_bytes
    assert total == 14 * p  # fp16 model + 3 fp32 optimizer states
    assert abs(total / 2**30 - 105) < 1  # the guideline's GB are GiB


def test_per_rank_bytes_follow_dlio_layout() -> None:
    """TINY is 2 x 2 x 2, ZeRO 1: ranks 0-3 (DP rank 0) write the model, all the optimizer."""
    t = params_by_tensor(TINY)
    layer = [v for k, v in t.items() if k.startswith("l0.") and not k.endswith("norm")]
    half = sum(layer) // 2 + 2 * TINY.hidden  # a TP rank's matrices, the two norms whole
    stage0 = 3 * half + t["embed"] // 2  # 5 layers on 2 stages: 3 then 2
    stage1 = 2 * half + t["lm_head"] // 2 + t["final_norm"]
    optim = 12 * (sum(t.values()) // 8)
    expected = [(2 * stage0, optim)] * 2 + [(2 * stage1, optim)] * 2 + [(0, optim)] * 4
    assert list(checkpoint_bytes(TINY).per_rank) == expected  # w = dp x 4 + pp x 2 + tp
    with pytest.raises(ValueError, match=r"outside 0\.\.7"):
        _shards.shard(TINY, 8)


@pytest.mark.parametrize("size", [1, 2, 3, 8])
def test_clients_cover_every_world_rank_once(size: int) -> None:
    got = sorted(
        w for r in range(size) for w in _shards.world_ranks_of(TINY, r, size, subset=False)
    )
    assert got == list(range(TINY.processes))
    assert [_shards.world_ranks_of(TINY, r, size, subset=True) for r in range(size)] == [
        [r] for r in range(size)
    ]


def test_size_per_rank_sets_the_mean_bytes_per_rank() -> None:
    cfg = CheckpointConfig(size_per_rank=3_000_000)
    plans = [_checkpoint.make_plan(TINY, r, 2, cfg) for r in range(2)]
    assert abs(sum(p.nbytes for p in plans) / 2 - 3_000_000) < 2 * 16  # rounding per file


# ------------------------------------------------------------------ a real run


class CountingIO(FileIO):
    """The real system calls, counted."""

    def __init__(self) -> None:
        self.fsyncs = 0
        self.drops = 0

    def fsync(self, fd: int) -> None:
        self.fsyncs += 1
        super().fsync(fd)

    def drop_cache(self, fd: int) -> bool:
        self.drops += 1
        return super().drop_cache(fd)


CFG = CheckpointConfig(num_write=2, num_read=2, interval_s=0.0, keep=True, chunk_bytes=64 * 1024)
SMALL = dict(size_per_rank=300_000)


def run_two(tmp_path: Path, io: FileIO | None = None, **kw: Any) -> dict[str, Any]:
    cfg = CheckpointConfig(**{**CFG.__dict__, **SMALL, **kw})
    return run_local_ranks(TINY, tmp_path / "ckpt", 2, cfg, io=io)


def test_two_ranks_write_fsync_drop_and_read_back(tmp_path: Path) -> None:
    io = CountingIO()
    merged = run_two(tmp_path, io)
    records = merged["records"]
    files = sorted((tmp_path / "ckpt").rglob("*.bin"))
    assert {f.parent.name for f in files} == {"checkpoint_0", "checkpoint_1"}
    per_ckpt = sum(r["files"] for r in records)
    assert len(files) == 2 * per_ckpt
    assert sum(f.stat().st_size for f in files) == 2 * sum(r["bytes"] for r in records)
    assert io.drops == len(files)
    assert io.fsyncs == len(files) + 2 * 2 + 1  # files, each rank's checkpoint dirs, the folder
    assert all(r["page_cache_dropped"] for r in records) == hasattr(os, "posix_fadvise")
    assert all(r["chunks_verified"] > 0 for r in records)
    _assert_blocks_distinct(files[0])


def _assert_blocks_distinct(path: Path) -> None:
    data = path.read_bytes()
    blocks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assert len({zlib.crc32(b) for b in blocks}) == len(blocks)  # no dedup, no compression
    assert len(set(data[:4096])) > 200  # random bytes


def test_summary_follows_the_max_and_min_over_ranks_rule(tmp_path: Path) -> None:
    merged = run_two(tmp_path)
    doc = build_summary(TINY, merged, folder=tmp_path, settings={}, launcher="threads")
    records = doc["ranks"]
    total = sum(r["bytes"] for r in records)
    assert doc["checkpoint_bytes"] == total
    for phase, key in (("save", "save_seconds"), ("load", "load_seconds")):
        assert len(doc[phase]) == 2
        for i, entry in enumerate(doc[phase]):
            times = [r[key][i] for r in records]
            assert entry["duration_seconds"] == max(times)
            assert entry["GB_per_second"] == pytest.approx(total / max(times) / 1e9)
            rates = [r["bytes"] / t / 1e9 for r, t in zip(records, times, strict=True)]
            assert entry["min_rank_GB_per_second"] == pytest.approx(min(rates))
        mean = sum(e["GB_per_second"] for e in doc[phase]) / 2
        assert doc["results"][f"{phase}_GB_per_second_mean"] == pytest.approx(mean)
        dlio = doc["metric"][f"{phase}_checkpoint_io_mean_GB_per_second"]
        assert dlio == pytest.approx(mean * 1e9 / 2**30)
    assert doc["size"] == "scaled, not the official size"


def test_files_are_removed_without_keep(tmp_path: Path) -> None:
    run_two(tmp_path, keep=False)
    assert list((tmp_path / "ckpt").iterdir()) == []


class FlippingIO(FileIO):
    """Corrupts what it reads: the checksum sample must catch it."""

    def readinto(self, fd: int, buf: memoryview) -> int:
        n = super().readinto(fd, buf)
        if n:
            buf[0] ^= 0xFF
        return n


def test_a_corrupt_read_is_caught(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="reads back wrong"):
        run_two(tmp_path, FlippingIO())


# ------------------------------------------------------------------ errors


class FullDiskIO(FileIO):
    """The disk fills up after 100 kB (an injected ENOSPC)."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, fd: int, data: memoryview) -> int:
        if self.written > 100_000:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = super().write(fd, data)
        self.written += n
        return n


def test_a_full_disk_is_one_line_with_needed_and_free(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        run_two(tmp_path, FullDiskIO())
    text = str(info.value)
    assert "\n" not in text
    assert "not enough space" in text and "bytes are free" in text
    cfg = CheckpointConfig(**{**CFG.__dict__, **SMALL})
    needed = sum(_checkpoint.make_plan(TINY, r, 2, cfg).nbytes for r in range(2)) * 2
    assert f"need {needed:,} bytes" in text


def test_too_little_free_space_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _checkpoint.shutil.disk_usage
    monkeypatch.setattr(_checkpoint.shutil, "disk_usage", lambda p: real(p)._replace(free=1000))
    with pytest.raises(UserError, match=r"need .* bytes .*1,000 bytes are free"):
        run_two(tmp_path)
    assert not list(tmp_path.rglob("*.bin"))


def test_an_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is not writable") as info:
        run_local_ranks(TINY, tmp_path / "file" / "ckpt", 2, CheckpointConfig(**CFG.__dict__))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kw", "flag"),
    [({"num_write": 0}, "--num-write"), ({"num_read": 3, "num_write": 2}, "--num-read"),
     ({"scale": 2.0}, "--scale"), ({"scale": 0.1, "size_per_rank": 5}, "--size-per-rank")],
)  # fmt: skip
def test_bad_settings_name_the_flag(kw: dict[str, Any], flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        CheckpointConfig(**kw)


def test_more_ranks_than_shards_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="at most 8"):
        run_local_ranks(TINY, tmp_path, 9, CFG)


# ------------------------------------------------------------------ CLI and golden


def cli(argv: list[str]) -> int:
    from mlmeter.cli import _storage_checkpoint as mod

    p = argparse.ArgumentParser()
    mod.add_arguments(p)
    return mod.run(p.parse_args(argv))


VOLATILE = {"created", "host", "folder", "hosts", "mlmeter_version", "source"}
TIMED_SUFFIXES = ("_seconds", "GB_per_second", "_second_mean", "_seconds_mean")
TIMED = {"duration_seconds", "GB_per_second", "min_rank_GB_per_second", "rank_seconds"}


def normalised(obj: Any, key: str = "") -> Any:
    """Timings, hosts and dates replaced by placeholders; sizes and structure kept."""
    if key in VOLATILE:
        return f"<{key}>"
    if isinstance(obj, dict):
        return {k: normalised(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [normalised(v, key) for v in obj]
    timed = key in TIMED or key.endswith(TIMED_SUFFIXES)
    if timed and key != "time_between_checkpoints_seconds" and isinstance(obj, float):
        return "<time>"
    return obj


def test_cli_writes_the_golden_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["llama3-8b", "--folder", str(tmp_path / "c"), "--ranks", "2", "--num-write", "2"]
    argv += ["--num-read", "1", "--size-per-rank", "256kB", "--interval", "0", "-o", str(out)]
    assert cli(argv) == 0
    doc = json.loads((out / "checkpoint_summary.json").read_text())
    assert doc["format"] == "mlmeter.storage_checkpoint" and doc["clients"]["ranks"] == 2
    assert "GB/s" in capsys.readouterr().out
    text = json.dumps(normalised(doc), indent=2) + "\n"
    check_golden("storage_checkpoint_summary.json", text)


def test_summary_is_written_atomically(tmp_path: Path) -> None:
    path = write_summary(tmp_path / "o", {"format": "x"})
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint_summary.json"]


def test_cli_bad_size_per_rank_names_the_flag(tmp_path: Path) -> None:
    argv = ["llama3-8b", "--folder", str(tmp_path / "c"), "--size-per-rank", "lots"]
    with pytest.raises(UsageError, match="--size-per-rank 'lots': use a size such as 64MB"):
        cli(argv)
    assert not (tmp_path / "c").exists()
