"""System description: what ran the benchmark, in MLPerf's system-description fields."""

from mlmeter.system._describe import describe_system, write_system_json

__all__ = ["describe_system", "write_system_json"]
