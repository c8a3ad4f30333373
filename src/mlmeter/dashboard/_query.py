"""Query strings to store filters and run ids: the one place the dashboard reads its URLs.

Every page takes its parameters as GET query parameters, so a URL can be shared. Bad
values raise ``BadQuery`` (answered with 400), naming the parameter and what it accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from urllib.parse import urlencode

from mlmeter.errors import UsageError
from mlmeter.results._model import KINDS, SOURCES, RunFilter

SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline")
DIVISIONS = ("closed", "open", "network")
FILTER_PARAMS = ("kind", "source", "division", "org", "system", "benchmark", "scenario", "valid")
_TRUE, _FALSE = ("1", "true", "on", "yes"), ("", "0", "false", "off", "no")
_CHOICES: dict[str, tuple[str, ...]] = {"kind": KINDS, "source": SOURCES}
MAX_IDS = 200


class BadQuery(UsageError):
    """A query parameter the dashboard cannot use (answered with 400)."""


def parse_filter(params: Mapping[str, str], allowed: Iterable[str] = ()) -> RunFilter:
    """A ``RunFilter`` from query parameters (``valid=1``: valid runs only, ``limit=N``).

    Parameters other than the filter's (and ``allowed``) are rejected, so a mistyped
    shared URL says so instead of showing everything.
    """
    known = {*FILTER_PARAMS, "limit", *allowed}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadQuery(f"unknown parameter {unknown[0]!r}: use one of {', '.join(sorted(known))}")
    values = {k: params.get(k, "").strip() for k in FILTER_PARAMS if k != "valid"}
    for name, choices in _CHOICES.items():
        if values[name] and values[name] not in choices:
            raise BadQuery(f"{name}={values[name]!r}: use one of {', '.join(choices)}")
    return RunFilter(
        valid_only=_flag(params.get("valid", "")), limit=_limit(params.get("limit", "")), **values
    )


def filter_query(where: RunFilter) -> str:
    """The query string (without ``?``) that ``parse_filter`` turns back into ``where``."""
    pairs = [(f.name, getattr(where, f.name)) for f in fields(where)]
    out = [(k, str(v)) for k, v in pairs if isinstance(v, str) and v]
    if where.valid_only:
        out.append(("valid", "1"))
    if where.limit:
        out.append(("limit", str(where.limit)))
    return urlencode(out)


def parse_ids(values: Iterable[str], name: str) -> list[int]:
    """Run ids from ``name=1,2&name=3`` (comma lists, repeated, or both), in order, unique."""
    out: list[int] = []
    for value in values:
        for part in value.split(","):
            text = part.strip()
            if not text:
                continue
            if not text.isdigit() or len(text) > 18:
                raise BadQuery(f"{name}={text!r}: run ids are positive integers, e.g. {name}=1,2")
            if int(text) not in out:
                out.append(int(text))
    if len(out) > MAX_IDS:
        raise BadQuery(f"{name}: at most {MAX_IDS} runs per side")
    return out


def parse_id(text: str) -> int | None:
    """A run id from a URL path segment; ``None`` when it is not one (answered with 404)."""
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadQuery(f"valid={text!r}: use valid=1 (valid runs only) or leave it out")


def _limit(text: str) -> int:
    value = text.strip()
    if not value:
        return 0
    if not value.isdigit() or len(value) > 9:
        raise BadQuery(f"limit={value!r}: use a whole number of runs (0: all)")
    return int(value)
