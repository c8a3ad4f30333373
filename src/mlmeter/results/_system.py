"""Fields of a system description (``system.json``, ``systems/<system>.json``) as rows
store them: strings and counts read leniently (descriptions hold numbers as text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _int(value: Any) -> int:
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return 0


def accelerator_count(system: Mapping[str, Any]) -> int:
    """Accelerators in the system: per node times nodes (0 when unknown)."""
    per_node = _int(system.get("accelerators_per_node", 0))
    nodes = _int(system.get("number_of_nodes", 1)) or 1
    return max(per_node, 0) * nodes


def system_name(system: Mapping[str, Any], fallback: str) -> str:
    """The description's ``system_name``, else ``fallback`` (the system id)."""
    name = system.get("system_name")
    return str(name) if isinstance(name, str) and name.strip() else fallback
