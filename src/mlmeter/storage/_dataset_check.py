"""The checks :func:`~mlmeter.storage._run.run_storage` makes on a dataset before a run.

The files must be the workload's format and, unless the run is marked not submittable,
hold the official minimum of samples (``_sizing``); every rank needs at least
:data:`MIN_STEPS` steps per epoch. A dataset that fits in RAM is flagged (DLIO's
``potential_caching``) with a warning.
"""

from __future__ import annotations

from collections.abc import Callable

from mlmeter.errors import UsageError
from mlmeter.storage._formats import DatasetManifest
from mlmeter.storage._sizing import host_memory_bytes, min_samples
from mlmeter.storage._specs import StorageWorkload

MIN_STEPS = 3  # DLIO's samples/s counts steps - 2


class DatasetTooSmall(UsageError):
    """The dataset holds fewer samples than the run needs."""


def check_dataset(
    ds: DatasetManifest, w: StorageWorkload, accelerators: int, allow_small: bool
) -> int:
    """Steps per epoch per rank; a one-line error when the dataset cannot serve the run."""
    if ds.file_format != w.format:
        raise UsageError(
            f"{ds.root} holds {ds.file_format} files; {w.name} reads {w.format}: "
            f"run `mlmeter storage datagen {w.name}`"
        )
    need = min_samples(w, accelerators, 1, host_memory_bytes())
    if ds.samples < need and not allow_small:
        raise DatasetTooSmall(
            f"{ds.root} holds {ds.samples:,} samples; {w.name} on {accelerators} accelerators "
            f"needs {need:,}: run `mlmeter storage datagen {w.name} --data {ds.root} "
            f"--accelerators {accelerators}` (or --allow-small: a run that cannot be submitted)"
        )
    steps = ds.files // accelerators * ds.samples_per_file // w.batch_size
    if steps < MIN_STEPS:
        raise DatasetTooSmall(
            f"{ds.root} gives {steps} steps of {w.batch_size} samples to each of "
            f"{accelerators} accelerators; a run needs {MIN_STEPS}: generate more files"
        )
    return steps


def fits_in_memory(ds: DatasetManifest, ram: int, say: Callable[[str], None] | None) -> bool:
    """Whether the page cache could hold the dataset (``potential_caching``); warns via ``say``."""
    caching = ds.total_bytes <= ram
    if caching and say is not None:
        say(
            f"warning: the dataset ({ds.total_bytes / 2**30:.3f} GiB) fits in this host's RAM "
            f"({ram / 2**30:.1f} GiB): reads after the first epoch may come from the page cache"
        )
    return caching
