"""``mlperf_log_accuracy.json``: the official layout, streamed entry by entry.

``[`` and a newline, then one ``{ "seq_id" : S, "qsl_idx" : I, "data" : "HEX" }`` per entry
joined by ``,`` and a newline, then a newline, ``]`` and a newline (an empty run:
``"[\\n]\\n"``). Hex is upper case. Token runs add ``"token_data" : "HEX"`` (the first-token
response; not in Offline) and ``"token_count" : N``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from mlmeter.errors import UserError
from mlmeter.logfmt._atomic import StrPath, atomic_writer
from mlmeter.logfmt._records import AccuracyEntry


def accuracy_entry_text(entry: AccuracyEntry) -> str:
    """One element, exactly as the official writes it."""
    text = (
        f'{{ "seq_id" : {entry.seq_id}, "qsl_idx" : {entry.qsl_idx}, '
        f'"data" : "{entry.data.hex().upper()}"'
    )
    if entry.token_data is not None:
        text += f', "token_data" : "{entry.token_data.hex().upper()}"'
    if entry.token_count is not None:
        text += f', "token_count" : {entry.token_count}'
    return text + " }"


def write_accuracy_log(path: StrPath, entries: Iterable[AccuracyEntry]) -> int:
    """Stream ``entries`` to ``path`` (atomically); return how many were written."""
    count = 0
    with atomic_writer(path) as f:
        f.write("[\n")
        for entry in entries:
            if count:
                f.write(",\n")
            f.write(accuracy_entry_text(entry))
            count += 1
        f.write("\n]\n" if count else "]\n")
    return count


def read_accuracy_log(path: StrPath) -> list[AccuracyEntry]:
    """Parse an accuracy log (official or ours) back into entries."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno}"
        raise UserError(f"{path}: not a JSON accuracy log ({where})") from None
    if not isinstance(raw, list):
        raise UserError(f"{path}: an accuracy log is a JSON array of entries")
    return [_entry(path, i, item) for i, item in enumerate(raw)]


def _entry(path: StrPath, i: int, item: object) -> AccuracyEntry:
    bad = UserError(f"{path}: entry {i} is not a valid accuracy-log entry")
    if not isinstance(item, dict):
        raise bad
    try:
        token_data = item.get("token_data")
        return AccuracyEntry(
            seq_id=int(item["seq_id"]),
            qsl_idx=int(item["qsl_idx"]),
            data=bytes.fromhex(item["data"]),
            token_data=None if token_data is None else bytes.fromhex(token_data),
            token_count=None if item.get("token_count") is None else int(item["token_count"]),
        )
    except (KeyError, TypeError, ValueError):
        raise bad from None
