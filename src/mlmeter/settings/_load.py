"""Build the requested ``TestSettings`` of a run: base -> mlperf.conf -> user.conf -> --set.

``resolve_test_settings`` also says where each field's value came from, so a run can log its
settings in full with their provenance; ``load_test_settings`` returns just the settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlmeter.errors import SettingsError
from mlmeter.settings._conf import (
    ConfLine,
    ConfSource,
    apply_changes,
    conf_changes,
    read_conf,
    shipped_mlperf_lines,
)
from mlmeter.settings._enums import Scenario, TestMode
from mlmeter.settings._overrides import (
    Override,
    override_changes,
    override_scenario,
    parse_override,
)
from mlmeter.settings._test_settings import TestSettings

DEFAULT_SOURCE = "default"

_DEFAULTS = TestSettings().as_dict()


@dataclass(frozen=True)
class ResolvedSettings:
    """Requested settings, and which source set each field that is not a built-in default.

    ``sources`` maps a field to ``"base"``, ``"argument"``, ``"path:line"`` of a conf line,
    or ``"--set name=value"``; the last source to set a field wins, even if it set the
    default value again. ``notes`` lists conf lines that matched but had no effect.
    """

    settings: TestSettings
    sources: Mapping[str, str]
    notes: tuple[str, ...] = ()

    def source_of(self, name: str) -> str:
        """Where ``name`` got its value (``"default"`` when nothing set it)."""
        return self.sources.get(name, DEFAULT_SOURCE)

    def rows(self) -> list[tuple[str, Any, str]]:
        """``(field, value, source)`` for every field, in field order, for logging."""
        return [(n, v, self.source_of(n)) for n, v in self.settings.as_dict().items()]


@dataclass
class _Builder:
    settings: TestSettings
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, name: str, value: Any, source: str) -> None:
        self.settings = self.settings.replace(**{name: value})
        self.sources[name] = source


def load_test_settings(
    *,
    model: str,
    scenario: Scenario,
    mode: TestMode | None = None,
    user_conf: str | Path | None = None,
    mlperf_conf: str | Path | None = None,
    use_mlperf_conf: bool = True,
    overrides: Sequence[str] = (),
    base: TestSettings | None = None,
) -> TestSettings:
    """The settings of a run; see ``resolve_test_settings``."""
    return resolve_test_settings(
        model=model,
        scenario=scenario,
        mode=mode,
        user_conf=user_conf,
        mlperf_conf=mlperf_conf,
        use_mlperf_conf=use_mlperf_conf,
        overrides=overrides,
        base=base,
    ).settings


def resolve_test_settings(
    *,
    model: str,
    scenario: Scenario,
    mode: TestMode | None = None,
    user_conf: str | Path | None = None,
    mlperf_conf: str | Path | None = None,
    use_mlperf_conf: bool = True,
    overrides: Sequence[str] = (),
    base: TestSettings | None = None,
) -> ResolvedSettings:
    """Apply, in order: ``base`` (default ``TestSettings()``) with ``scenario``; mlperf.conf
    (``mlperf_conf``, else the shipped one; none if ``use_mlperf_conf`` is false); user.conf;
    ``mode`` if given (like a harness setting ``settings.mode`` after ``FromConfig``); then
    the ``--set`` ``overrides``. A ``scenario=`` override replaces ``scenario`` everywhere,
    so conf files are read for the scenario the run will have.
    """
    _check_model(model)
    parsed = [parse_override(text) for text in overrides]
    scenario = override_scenario(parsed) or scenario
    build = _start(base, scenario)
    for lines, source in _conf_files(mlperf_conf, use_mlperf_conf, user_conf):
        _apply_file(build, lines, model, scenario, source)
    if mode is not None:
        build.set("mode", mode, "argument")
    _apply_overrides(build, parsed, scenario)
    return ResolvedSettings(build.settings, dict(build.sources), tuple(build.notes))


def _check_model(model: str) -> None:
    if not model or any(c.isspace() for c in model):
        raise SettingsError(f"model must be a benchmark name such as 'resnet50', got {model!r}")


def _start(base: TestSettings | None, scenario: Scenario) -> _Builder:
    build = _Builder(base or TestSettings())
    for name, value in build.settings.as_dict().items():
        if value != _DEFAULTS[name]:
            build.sources[name] = "base"
    build.set("scenario", scenario, "argument")
    return build


def _conf_files(
    mlperf_conf: str | Path | None, use_mlperf_conf: bool, user_conf: str | Path | None
) -> list[tuple[Sequence[ConfLine], ConfSource]]:
    files: list[tuple[Sequence[ConfLine], ConfSource]] = []
    if mlperf_conf is not None and not use_mlperf_conf:
        raise SettingsError("an mlperf.conf path was given with use_mlperf_conf off: drop one")
    if use_mlperf_conf:
        lines = (
            shipped_mlperf_lines()
            if mlperf_conf is None
            else read_conf(mlperf_conf, source="mlperf")
        )
        files.append((lines, "mlperf"))
    if user_conf is not None:
        files.append((read_conf(user_conf, source="user"), "user"))
    return files


def _apply_file(
    build: _Builder, lines: Sequence[ConfLine], model: str, scenario: Scenario, source: ConfSource
) -> None:
    changes, notes = conf_changes(build.settings, lines, model, scenario, source=source)
    build.settings = apply_changes(build.settings, changes)
    build.sources.update((c.field, c.line.where) for c in changes)
    build.notes.extend(notes)


def _apply_overrides(build: _Builder, parsed: Sequence[Override], scenario: Scenario) -> None:
    for name, value, override in override_changes(parsed, scenario):
        try:
            build.set(name, value, f"--set {override.text}")
        except SettingsError as exc:
            raise SettingsError(f"--set {override.text}: {exc}") from None
