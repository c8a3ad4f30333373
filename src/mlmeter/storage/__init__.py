"""MLPerf Storage in pure Python: training-format datasets, emulated accelerators and their
utilization (AU), checkpoint writes and reads, and MPI ranks as clients.

The workloads are data (``data/workloads.toml``); AU and throughput follow DLIO's formulas;
``summary.json`` uses DLIO's field names.
"""

from mlmeter.storage._checkpoint import CheckpointConfig, run_local_ranks
from mlmeter.storage._checkpoint_sizes import CheckpointBytes, checkpoint_bytes, num_parameters
from mlmeter.storage._comm import Comm, LocalComm
from mlmeter.storage._datagen import generate_dataset
from mlmeter.storage._dataset_check import DatasetTooSmall, check_dataset
from mlmeter.storage._dataset_plan import DatasetPlan, plan_dataset
from mlmeter.storage._formats import DatasetManifest, read_manifest
from mlmeter.storage._metrics import RunMetrics, accelerator_utilization
from mlmeter.storage._mpi import mpi_comm
from mlmeter.storage._run import RunOptions, StorageResult, run_storage
from mlmeter.storage._search import SearchResult, search_max_accelerators
from mlmeter.storage._sizing import DataSize, data_size, min_samples, parse_size
from mlmeter.storage._specs import (
    CheckpointModel,
    StorageWorkload,
    checkpoint_model_names,
    load_checkpoint_model,
    load_workload,
    workload_names,
)

__all__ = [
    "CheckpointBytes",
    "CheckpointConfig",
    "CheckpointModel",
    "Comm",
    "DataSize",
    "DatasetManifest",
    "DatasetPlan",
    "DatasetTooSmall",
    "LocalComm",
    "RunMetrics",
    "RunOptions",
    "SearchResult",
    "StorageResult",
    "StorageWorkload",
    "accelerator_utilization",
    "check_dataset",
    "checkpoint_bytes",
    "checkpoint_model_names",
    "data_size",
    "generate_dataset",
    "load_checkpoint_model",
    "load_workload",
    "min_samples",
    "mpi_comm",
    "num_parameters",
    "parse_size",
    "plan_dataset",
    "read_manifest",
    "run_local_ranks",
    "run_storage",
    "search_max_accelerators",
    "workload_names",
]
