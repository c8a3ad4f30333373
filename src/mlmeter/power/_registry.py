"""Power meters by name: ``--power SCHEME[:SPEC]`` -> a Meter.

Built-ins (always there, even without installed entry points): ``sim``, ``rapl``, ``nvml``,
``ptd`` and ``director``. Other packages add meters under the entry-point group
``mlmeter.power_meters`` (name -> ``factory(spec: str) -> Meter``); built-ins win a name clash.
``spec`` is what follows the first ``:``, e.g. ``profile=square,low=50`` for
``sim:profile=square,low=50`` or ``//HOST:PORT`` for ``ptd://HOST:PORT``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import cast

from mlmeter.errors import UsageError
from mlmeter.power._model import Meter

GROUP = "mlmeter.power_meters"
BUILTINS = {
    "sim": "mlmeter.power._sim:from_spec",
    "rapl": "mlmeter.power._rapl:from_spec",
    "nvml": "mlmeter.power._nvml:from_spec",
    "ptd": "mlmeter.power._ptd:from_spec",
    "director": "mlmeter.power._director_meter:from_spec",
}
_METHODS = ("probe", "identify", "start", "samples", "stop", "close")

Factory = Callable[[str], Meter]


def names() -> list[str]:
    """Every meter scheme: the built-ins, then installed plugins."""
    plugins = {ep.name for ep in entry_points(group=GROUP)}
    return [*BUILTINS, *sorted(plugins - set(BUILTINS))]


def _load_builtin(target: str) -> Factory:
    module, _, attr = target.partition(":")
    return cast(Factory, getattr(importlib.import_module(module), attr))


def factory(scheme: str) -> Factory:
    """The factory registered as ``scheme``; a one-line UsageError lists the known ones."""
    if scheme in BUILTINS:
        return _load_builtin(BUILTINS[scheme])
    plugins = {ep.name: ep for ep in entry_points(group=GROUP)}
    if scheme not in plugins:
        raise UsageError(f"unknown power meter {scheme!r}: use --power {'|'.join(names())}")
    try:
        return cast(Factory, plugins[scheme].load())
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"the power meter plugin {scheme!r} cannot be loaded: {exc}") from None


def get_meter(spec: str) -> Meter:
    """A meter for ``--power SPEC`` (``sim``, ``sim:profile=square``, ``rapl:root=PATH``,
    ``nvml``, ``ptd://HOST:PORT``, ``director://HOST:PORT``, or a plugin's)."""
    text = spec.strip()
    scheme, _, rest = text.partition(":")
    if not scheme:
        raise UsageError(f"--power needs a meter: use --power {'|'.join(names())}")
    meter = factory(scheme)(rest)
    missing = [m for m in _METHODS if not callable(getattr(meter, m, None))]
    if missing:
        raise UsageError(f"the power meter {scheme!r} is not a Meter: it lacks {missing[0]}()")
    return meter
