"""The accuracy folder as MLCommons' ``tools/submission/truncate_accuracy_log.py`` leaves it.

The official tool, for each ``results/<system>/<benchmark>/<scenario>/accuracy/``:

- leaves the folder alone when ``accuracy.txt`` already has a ``hash=`` line and the log is
  smaller than ``MAX_ACCURACY_LOG_SIZE`` (10 KiB);
- otherwise appends ``hash=<sha256 of the full log>`` to ``accuracy.txt`` and replaces the
  log with its first ``VIEWABLE_SIZE`` (4096) bytes, ``"\\n\\n...\\n\\n"`` and its last 4096
  bytes (a file of 8199 bytes, so a second pass leaves it alone).

The official tool reads the log in text mode (characters, with a byte-offset seek for the
tail); LoadGen's accuracy log is ASCII (hex strings), where characters are bytes, so we
work on bytes. ``accuracy.txt`` written by ``mlmeter run`` already ends with the hash; we
check it against the log and keep exactly one ``hash=`` line, the last one.
"""

from __future__ import annotations

import hashlib
import re

from mlmeter.errors import UsageError

MAX_ACCURACY_LOG_SIZE = 10 * 1024
VIEWABLE_SIZE = 4096
SEPARATOR = b"\n\n...\n\n"

# the official pattern: a line that is exactly ``hash=<word characters>``
_HASH_RE = re.compile(r"^hash=(\w+)$")


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def needs_truncation(size: int) -> bool:
    """Whether the official tool truncates a log of ``size`` bytes (it keeps < 10 KiB)."""
    return size >= MAX_ACCURACY_LOG_SIZE


def truncate_accuracy_log(data: bytes) -> bytes:
    """The log as the official tool leaves it: unchanged under 10 KiB, else head + tail."""
    if not needs_truncation(len(data)):
        return data
    return data[:VIEWABLE_SIZE] + SEPARATOR + data[len(data) - VIEWABLE_SIZE :]


def hash_lines(text: str) -> list[str]:
    """The values of every ``hash=`` line of an ``accuracy.txt``, in order."""
    found = (_HASH_RE.match(line) for line in text.splitlines())
    return [m.group(1) for m in found if m]


def accuracy_txt(stored: str, log_sha256: str, *, where: str = "accuracy.txt") -> str:
    """``stored`` (mlmeter's scored result) without its hash lines, then ``hash=<sha256>``.

    A hash already in ``stored`` must be ``log_sha256``: otherwise the log changed after it
    was scored, and packaging it would certify a result nobody computed.
    """
    for old in hash_lines(stored):
        if old != log_sha256:
            raise UsageError(
                f"{where}: its hash= line does not match mlperf_log_accuracy.json; the log "
                "changed after scoring: re-run the accuracy run"
            )
    kept = [line for line in stored.splitlines() if not _HASH_RE.match(line)]
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join([*kept, f"hash={log_sha256}"]) + "\n"
