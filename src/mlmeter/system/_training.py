"""The training submission's ``systems/<system>.json`` with every field the checker requires.

``mlperf_logging.system_desc_checker`` only checks that the fields exist (values may be
empty strings) and that ``status`` is one of four phrases; we fill what we can measure.
"""

from __future__ import annotations

import os
from typing import Any

from mlmeter.system._describe import describe_system

# The per-log submission_status word -> the system description's status phrase.
STATUS_PHRASES = {
    "onprem": "Available on-premise",
    "cloud": "Available cloud",
    "preview": "Preview",
    "research": "Research, Development, or Internal (RDI)",
}

REQUIRED_FIELDS = (
    "submitter",
    "division",
    "status",
    "system_name",
    "number_of_nodes",
    "host_processors_per_node",
    "host_processor_model_name",
    "host_processor_core_count",
    "host_processor_vcpu_count",
    "host_processor_frequency",
    "host_processor_caches",
    "host_processor_interconnect",
    "host_memory_capacity",
    "host_storage_type",
    "host_storage_capacity",
    "host_networking",
    "host_networking_topology",
    "host_memory_configuration",
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_host_interconnect",
    "accelerator_frequency",
    "accelerator_on-chip_memories",
    "accelerator_memory_configuration",
    "accelerator_memory_capacity",
    "accelerator_interconnect",
    "accelerator_interconnect_topology",
    "cooling",
    "hw_notes",
    "framework",
    "other_software_stack",
    "operating_system",
    "sw_notes",
)


def training_system_description(
    *,
    submitter: str,
    division: str,
    status: str,
    system_name: str,
    nodes: int = 1,
    framework: str = "",
) -> dict[str, str]:
    """The running machine as a training ``systems/*.json`` (all required fields, strings)."""
    if status not in STATUS_PHRASES:
        known = ", ".join(STATUS_PHRASES)
        raise ValueError(f"status must be one of {known}, got {status!r}")
    base = describe_system(framework)
    out: dict[str, Any] = dict.fromkeys(REQUIRED_FIELDS, "")
    for key in REQUIRED_FIELDS:
        if key in base:
            out[key] = base[key]
    software = base.get("other_software_stack", {})
    out.update(
        submitter=submitter,
        division=division,
        status=STATUS_PHRASES[status],
        system_name=system_name,
        number_of_nodes=nodes,
        host_processor_vcpu_count=os.cpu_count() or 0,
        other_software_stack=", ".join(f"{k} {v}" for k, v in software.items()),
        sw_notes="time-to-train harness: mlmeter",
    )
    return {k: str(v) for k, v in out.items()}  # the official files (and checker) use strings
