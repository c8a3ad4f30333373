"""mlmeter: an open Python implementation of the MLPerf benchmark system."""

from mlmeter._version import __version__

__all__ = ["__version__"]
