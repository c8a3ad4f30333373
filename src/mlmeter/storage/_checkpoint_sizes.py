"""Checkpoint sizes from a transformer's shape and its TP x PP x DP + ZeRO sharding.

Parameters (Llama-style, grouped-query attention): embedding ``vocab x hidden``; per layer
two norms (``hidden`` each), Q and O (``hidden^2`` each), K and V (``hidden x kv_dim``
each, ``kv_dim = hidden x kv_heads / heads``) and a gated MLP (``3 x hidden x ffn``); a
final norm and an untied LM head (``vocab x hidden``). The model state is fp16 (2 bytes a
parameter); the optimizer state is fp32 master weights plus Adam's two moments (12 bytes a
parameter).

What each rank writes follows DLIO's checkpointing emulation (``base_checkpointing.py``):
world rank ``w`` (``processes = tp x pp x dp`` of them) has ``tp_rank = w % tp``,
``pp_rank = (w // tp) % pp``, ``dp_rank = w // (tp x pp)``. Pipeline stage ``s`` holds an
even share of the layers (the first stages take the remainder), stage 0 the embedding and
the last stage the final norm and the LM head. TP splits the matrices (whole shares,
rounded down); every TP rank keeps the norms whole. ZeRO stage 3 shards the model state
over DP; below it only DP rank 0 writes the model. ZeRO stage >= 1 gives every rank an
equal share (rounded down) of the whole model's optimizer state; stage 0 has DP rank 0
write the optimizer state of what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmeter.storage._specs import CheckpointModel

MODEL_DTYPE_BYTES = 2  # fp16 weights
OPTIMIZER_BYTES_PER_PARAM = 12  # Adam in fp32: master weights + two moments


@dataclass(frozen=True)
class CheckpointBytes:
    """The size of one checkpoint: totals and what each rank writes (``(model, optimizer)``).

    Ranks are ordered as DLIO orders them: ``rank = dp_rank x (pp x tp) + pp_rank x tp +
    tp_rank``. The totals are the sums over the ranks (the bytes written); ``params`` is the
    model's parameter count.
    """

    params: int
    model_bytes: int
    optimizer_bytes: int
    per_rank: tuple[tuple[int, int], ...]

    @property
    def total_bytes(self) -> int:
        """Model plus optimizer state, all ranks."""
        return self.model_bytes + self.optimizer_bytes


def layer_parameters(model: CheckpointModel) -> tuple[int, int]:
    """One transformer layer's ``(matrices, norms)`` parameter counts; TP splits only matrices."""
    h = model.hidden
    kv_dim = h * model.kv_heads // model.heads
    return 2 * h * h + 2 * h * kv_dim + 3 * h * model.ffn, 2 * h


def stage_layers(model: CheckpointModel, stage: int) -> int:
    """Transformer layers on pipeline stage ``stage`` (the first stages take the remainder)."""
    base, extra = divmod(model.layers, model.pp)
    return base + (1 if stage < extra else 0)


def stage_parameters(model: CheckpointModel) -> tuple[int, ...]:
    """Parameters held by each pipeline stage (embedding first, final norm and lm_head last)."""
    layer = sum(layer_parameters(model))
    per_stage = [stage_layers(model, s) * layer for s in range(model.pp)]
    per_stage[0] += model.vocab * model.hidden
    per_stage[-1] += model.hidden + model.vocab * model.hidden
    return tuple(per_stage)


def num_parameters(model: CheckpointModel) -> int:
    """The model's parameter count."""
    return sum(stage_parameters(model))


def tp_rank_parameters(model: CheckpointModel, stage: int) -> int:
    """Parameters one TP rank of pipeline stage ``stage`` holds (norms whole, matrices split)."""
    matrices, norms = layer_parameters(model)
    n = stage_layers(model, stage) * (matrices // model.tp + norms)
    if stage == 0:
        n += model.vocab * model.hidden // model.tp
    if stage == model.pp - 1:
        n += model.vocab * model.hidden // model.tp + model.hidden
    return n


def rank_bytes(model: CheckpointModel, world_rank: int) -> tuple[int, int]:
    """``(model, optimizer)`` bytes world rank ``world_rank`` writes (official size)."""
    if not 0 <= world_rank < model.processes:
        raise ValueError(f"world rank {world_rank} outside 0..{model.processes - 1}")
    pp_rank = (world_rank // model.tp) % model.pp
    writer = world_rank // (model.tp * model.pp) == 0  # DP rank 0
    held = tp_rank_parameters(model, pp_rank)
    weights = held // model.dp if model.zero_stage == 3 else (held if writer else 0)
    if model.zero_stage >= 1:
        state = num_parameters(model) // model.processes
    else:
        state = held if writer else 0
    return weights * MODEL_DTYPE_BYTES, state * OPTIMIZER_BYTES_PER_PARAM


def checkpoint_bytes(model: CheckpointModel) -> CheckpointBytes:
    """The official checkpoint of ``model``: its parameters and what every rank writes."""
    per_rank = tuple(rank_bytes(model, w) for w in range(model.processes))
    return CheckpointBytes(
        params=num_parameters(model),
        model_bytes=sum(m for m, _ in per_rank),
        optimizer_bytes=sum(o for _, o in per_rank),
        per_rank=per_rank,
    )
