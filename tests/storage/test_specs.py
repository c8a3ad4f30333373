"""The storage workload table: values from MLPerf Storage v2.0, validation, checkpoint sizes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlmeter.errors import ConfigError, SettingsError, UsageError
from mlmeter.storage._checkpoint_sizes import checkpoint_bytes, stage_parameters
from mlmeter.storage._specs import (
    WORKLOADS_TOML,
    CheckpointModel,
    StorageWorkload,
    checkpoint_model_names,
    load_checkpoint_model,
    load_workload,
    workload_names,
)

GIB = 2**30


def test_names() -> None:
    assert workload_names() == ("unet3d", "resnet50", "cosmoflow")
    assert checkpoint_model_names() == ("llama3-8b", "llama3-70b", "llama3-405b", "llama3-1t")


@pytest.mark.parametrize(
    ("name", "accel", "fmt", "spf", "record", "stdev", "batch", "threads", "sleep", "au"),
    [
        ("unet3d", "h100", "npz", 1, 146_600_628, 68_341_808, 7, 4, 0.323, 0.9),
        ("unet3d", "a100", "npz", 1, 146_600_628, 68_341_808, 7, 4, 0.636, 0.9),
        ("resnet50", "h100", "tfrecord", 1251, 114_660, 0, 400, 8, 0.224, 0.9),
        ("resnet50", "a100", "tfrecord", 1251, 114_660, 0, 400, 8, 0.435, 0.9),
        ("cosmoflow", "h100", "tfrecord", 1, 2_828_486, 71_311, 1, 4, 0.0035, 0.7),
        ("cosmoflow", "a100", "tfrecord", 1, 2_828_486, 71_311, 1, 4, 0.00551, 0.7),
    ],
)
def test_training_values(
    name: str,
    accel: str,
    fmt: str,
    spf: int,
    record: int,
    stdev: int,
    batch: int,
    threads: int,
    sleep: float,
    au: float,
) -> None:
    w = load_workload(name, accel)
    assert (w.name, w.accelerator, w.format, w.samples_per_file) == (name, accel, fmt, spf)
    assert (w.record_bytes, w.record_bytes_stdev, w.batch_size) == (record, stdev, batch)
    assert (w.read_threads, w.compute_s, w.epochs, w.au_threshold) == (threads, sleep, 5, au)
    assert f"{name}_{accel}.yaml" in w.source


def test_default_accelerator_is_h100() -> None:
    assert load_workload("unet3d") == load_workload("unet3d", "h100")


@pytest.mark.parametrize(
    ("name", "shape", "parallel"),
    [
        ("llama3-8b", (4096, 14336, 32, 8, 32, 128256), (1, 1, 8, 3, 8)),
        ("llama3-70b", (8192, 28672, 64, 8, 80, 128256), (8, 1, 8, 3, 64)),
        ("llama3-405b", (16384, 53248, 128, 8, 126, 128256), (8, 32, 2, 1, 512)),
        ("llama3-1t", (25872, 98304, 192, 32, 128, 128256), (8, 64, 2, 1, 1024)),
    ],
)
def test_checkpoint_models(name: str, shape: tuple[int, ...], parallel: tuple[int, ...]) -> None:
    m = load_checkpoint_model(name)
    assert (m.hidden, m.ffn, m.heads, m.kv_heads, m.layers, m.vocab) == shape
    assert (m.tp, m.pp, m.dp, m.zero_stage, m.processes) == parallel


def _params_by_tensor(m: CheckpointModel) -> int:
    """An independent count: every tensor of a Llama block listed by name with its shape."""
    head_dim = m.hidden / m.heads
    kv = round(m.kv_heads * head_dim)
    block = {
        "attn_norm": (m.hidden,),
        "wq": (m.hidden, m.hidden),
        "wk": (m.hidden, kv),
        "wv": (m.hidden, kv),
        "wo": (m.hidden, m.hidden),
        "ffn_norm": (m.hidden,),
        "w1_gate": (m.hidden, m.ffn),
        "w3_up": (m.hidden, m.ffn),
        "w2_down": (m.ffn, m.hidden),
    }
    outer = {
        "tok_embeddings": (m.vocab, m.hidden),
        "norm": (m.hidden,),
        "output": (m.vocab, m.hidden),
    }

    def size(shapes: dict[str, tuple[int, ...]]) -> int:
        total = 0
        for dims in shapes.values():
            n = 1
            for d in dims:
                n *= d
            total += n
        return total

    return size(outer) + m.layers * size(block)


@pytest.mark.parametrize("name", ["llama3-8b", "llama3-70b", "llama3-405b", "llama3-1t"])
def test_checkpoint_bytes_add_up(name: str) -> None:
    m = load_checkpoint_model(name)
    c = checkpoint_bytes(m)
    assert c.params == _params_by_tensor(m) == sum(stage_parameters(m))
    assert len(c.per_rank) == m.processes
    assert sum(w for w, _ in c.per_rank) == c.model_bytes
    assert sum(o for _, o in c.per_rank) == c.optimizer_bytes
    norms = (2 * m.layers + 1) * m.hidden  # every TP rank writes the norms whole (DLIO)
    assert c.model_bytes == 2 * (c.params + (m.tp - 1) * norms)  # fp16
    # ZeRO 1 and 3: each rank an equal share of fp32 master + Adam m and v (DLIO)
    assert c.optimizer_bytes == 3 * 4 * (c.params // m.processes) * m.processes


def test_public_parameter_counts() -> None:
    """The model cards say 8.03B, 70.6B and 405B parameters."""
    counts = {
        n: checkpoint_bytes(load_checkpoint_model(n)).params for n in checkpoint_model_names()
    }
    assert counts["llama3-8b"] == pytest.approx(8.03e9, rel=0.001)
    assert counts["llama3-70b"] == pytest.approx(70.6e9, rel=0.001)
    assert counts["llama3-405b"] == pytest.approx(405.9e9, rel=0.001)


def test_sizes_match_the_submission_guidelines() -> None:
    """Table 2 of the guidelines: 105 GB, 912 GB, 5.29 TB, 18 TB.

    Its "GB" are GiB and its "TB" thousands of GiB (5.29 TB = 5,291.7 GiB, our 405B count to
    the digit). 70B: the table's 912 uses 128 attention heads (its table, like DLIO's
    llama3_70b.yaml, says 128) where the model card says 64; heads set the K/V width under
    GQA, so the card gives 919.9 GiB (+0.9 %) and 128 heads gives the table's number.
    1T: no public model card; our count from the config shape is 15,427 GiB, 14 % under the
    table's 18 TB, which we could not reproduce from the shape (DLIO's own
    ``get_num_parameters`` ignores GQA and gives 17.3 thousand GiB; still 4 % off).
    """
    gib = {
        n: checkpoint_bytes(load_checkpoint_model(n)).total_bytes / GIB
        for n in checkpoint_model_names()
    }
    assert gib["llama3-8b"] == pytest.approx(105, rel=0.01)
    assert gib["llama3-70b"] == pytest.approx(912, rel=0.01)
    assert gib["llama3-405b"] == pytest.approx(5290, rel=0.01)
    assert gib["llama3-1t"] == pytest.approx(18000, rel=0.15)
    as_in_table = dataclasses.replace(load_checkpoint_model("llama3-70b"), heads=128)
    assert checkpoint_bytes(as_in_table).total_bytes / GIB == pytest.approx(912, rel=0.002)


def test_zero3_shards_model_over_dp_and_zero1_writes_it_once() -> None:
    m8 = checkpoint_bytes(load_checkpoint_model("llama3-8b"))  # 1x1x8, ZeRO 3
    assert all(w > 0 and o > 0 for w, o in m8.per_rank)
    assert max(w for w, _ in m8.per_rank) - min(w for w, _ in m8.per_rank) <= 2
    m405 = load_checkpoint_model("llama3-405b")  # 8x32x2, ZeRO 1
    c = checkpoint_bytes(m405)
    mp = m405.tp * m405.pp
    assert all(w > 0 for w, _ in c.per_rank[:mp])  # data-parallel rank 0 writes the model
    assert all(w == 0 for w, _ in c.per_rank[mp:])
    assert all(o > 0 for _, o in c.per_rank)  # ZeRO 1 shards the optimizer over all ranks


def test_zero0_leaves_the_optimizer_to_dp_rank_0() -> None:
    m = dataclasses.replace(load_checkpoint_model("llama3-8b"), zero_stage=0)
    c = checkpoint_bytes(m)
    assert c.per_rank[0] == (c.model_bytes, c.optimizer_bytes)
    assert all(r == (0, 0) for r in c.per_rank[1:])


def test_pipeline_stages_split_layers_evenly() -> None:
    """126 layers on 32 stages: 30 stages of 4 and 2 of 3; embedding first, lm_head last."""
    m = load_checkpoint_model("llama3-405b")
    embed = m.vocab * m.hidden
    layer = (_params_by_tensor(m) - 2 * embed - m.hidden) // m.layers
    stages = stage_parameters(m)
    assert len(stages) == m.pp
    assert stages[0] == 4 * layer + embed
    assert stages[1:30] == (4 * layer,) * 29
    assert stages[30] == 3 * layer
    assert stages[31] == 3 * layer + embed + m.hidden


def test_validation_names_the_field() -> None:
    w = load_workload("unet3d")
    with pytest.raises(SettingsError, match="batch_size"):
        dataclasses.replace(w, batch_size=0)
    with pytest.raises(SettingsError, match="format"):
        dataclasses.replace(w, format="csv")
    with pytest.raises(SettingsError, match="au_threshold"):
        dataclasses.replace(w, au_threshold=1.5)
    with pytest.raises(SettingsError, match="processes"):
        dataclasses.replace(load_checkpoint_model("llama3-8b"), processes=9)
    assert isinstance(w, StorageWorkload)


def test_unknown_names() -> None:
    with pytest.raises(UsageError, match="use one of unet3d, resnet50, cosmoflow"):
        load_workload("bert")
    with pytest.raises(UsageError, match="--accelerator"):
        load_workload("unet3d", "v100")
    with pytest.raises(UsageError, match="llama3-8b"):
        load_checkpoint_model("gpt3")


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = WORKLOADS_TOML.read_text()
    assert old in text
    path = tmp_path / "w.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_unknown_key_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    path = _edited(tmp_path, "read_threads = 4\n", "read_threads = 4\nreed_threads = 2\n")
    with pytest.raises(ConfigError) as info:
        workload_names(path)
    msg = str(info.value)
    assert "\n" not in msg and "reed_threads" in msg and str(path) in msg
    line = path.read_text().splitlines().index("reed_threads = 2") + 1
    assert info.value.line_no == line


def test_bad_value_and_missing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[training.unet3d.a100\] batch_size=0"):
        load_workload("unet3d", "a100", _edited(tmp_path, "batch_size = 7", "batch_size = 0"))
    with pytest.raises(ConfigError, match="missing compute_s"):
        workload_names(_edited(tmp_path, "compute_s = 0.636\n", ""))
    with pytest.raises(ConfigError, match="version 1"):
        workload_names(_edited(tmp_path, "version = 1", "version = 2"))


def test_per_accelerator_override(tmp_path: Path) -> None:
    path = _edited(tmp_path, "compute_s = 0.636\n", "compute_s = 0.636\nbatch_size = 3\n")
    assert load_workload("unet3d", "a100", path).batch_size == 3
    assert load_workload("unet3d", "h100", path).batch_size == 7
