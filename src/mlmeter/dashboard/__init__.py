"""A read-only web dashboard over the results store: runs and systems with filters,
side-by-side comparison, plots (throughput against latency, results over time) and
links to the logs. ``dashboard_app(store)`` is the ASGI app; ``mlmeter dashboard``
serves it on loopback."""

from mlmeter.dashboard._app import dashboard_app

__all__ = ["dashboard_app"]
