"""The sample order: seeded, each sample once per epoch, split across ranks without overlap."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mlmeter.training import SampleStream


@given(
    size=st.integers(1, 300),
    batch=st.integers(1, 64),
    world=st.integers(1, 4),
    seed=st.integers(0, 2**31),
    epochs=st.integers(1, 3),
)
def test_ranks_together_see_every_sample_once_per_epoch(
    size: int, batch: int, world: int, seed: int, epochs: int
) -> None:
    streams = [SampleStream(size, batch, seed=seed, rank=r, world_size=world) for r in range(world)]
    parts = [np.concatenate(list(s.take(size * epochs))) for s in streams]
    merged = np.concatenate(parts)
    assert len(merged) == size * epochs
    counts = np.bincount(merged, minlength=size)
    assert (counts == epochs).all()
    assert all(s.epoch == epochs and s.consumed == size * epochs for s in streams)


@given(size=st.integers(2, 200), batch=st.integers(1, 32), seed=st.integers(0, 1000))
def test_same_seed_same_order_whatever_the_chunking(size: int, batch: int, seed: int) -> None:
    a = np.concatenate(list(SampleStream(size, batch, seed=seed).take(3 * size)))
    s = SampleStream(size, batch, seed=seed)
    b = np.concatenate([np.concatenate(list(s.take(n))) for n in (size // 2 or 1, size, 3 * size)])
    assert (a == b[: len(a)]).all()


def test_batches_never_span_epochs() -> None:
    stream = SampleStream(10, 4, seed=1)
    assert [len(b) for b in stream.take(20)] == [4, 4, 2, 4, 4, 2]
