"""System description: what ran the benchmark, in MLPerf's system-description fields."""

from mlmeter.system._describe import describe_system, write_system_json
from mlmeter.system._training import STATUS_PHRASES, training_system_description

__all__ = ["STATUS_PHRASES", "describe_system", "training_system_description", "write_system_json"]
