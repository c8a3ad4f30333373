"""``system.json``: the machine and software, in the fields of MLPerf's system description."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from mlmeter._version import __version__

_LIBRARIES = ("numpy", "torch", "onnxruntime", "transformers", "faster-whisper", "scikit-learn")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "mlmeter": __version__}
    for lib in _LIBRARIES:
        try:
            out[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return out


def _accelerators() -> tuple[int, str]:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.device_count(), torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return 0, "N/A"


def describe_system(framework: str = "") -> dict[str, Any]:
    """The running machine in MLPerf's system-description field names."""
    n_acc, acc_name = _accelerators()
    versions = _versions()
    return {
        "division": "open",
        "submitter": os.environ.get("MLMETER_SUBMITTER", ""),
        "status": "available",
        "system_name": platform.node(),
        "system_type": "datacenter",
        "number_of_nodes": 1,
        "host_processor_model_name": _cpu_model(),
        "host_processors_per_node": 1,
        "host_processor_core_count": os.cpu_count() or 0,
        "host_memory_capacity": f"{_memory_gb()} GB",
        "accelerators_per_node": n_acc,
        "accelerator_model_name": acc_name,
        "framework": framework or ", ".join(f"{k} {v}" for k, v in versions.items()),
        "operating_system": f"{platform.system()} {platform.release()}",
        "other_software_stack": versions,
    }


def write_system_json(path: Path, framework: str = "") -> Path:
    """Write ``system.json``; return its path."""
    path.write_text(json.dumps(describe_system(framework), indent=2, sort_keys=True) + "\n")
    return path
