"""LibriSpeech in its official layout (e.g. ``dev-clean``), the MLPerf Whisper data set.

Layout::

    <root>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    <root>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac

Each ``.trans.txt`` line is ``<speaker>-<chapter>-<utt> TRANSCRIPT IN UPPER CASE``.
``<root>`` may also be the folder that holds several subsets (``LibriSpeech/`` with
``dev-clean/`` and ``dev-other/``, as MLPerf uses both). A ``.wav`` with the same stem
is read when the ``.flac`` is absent (converted copies).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlmeter.errors import UsageError
from mlmeter.workloads.speech._audio import decode

_HINT = "point --data-dir at LibriSpeech dev-clean (<speaker>/<chapter>/*.trans.txt)"


@dataclass(frozen=True)
class Utterance:
    """One labelled utterance of a LibriSpeech chapter."""

    key: str  # <speaker>-<chapter>-<utt>
    audio: Path
    text: str


def _audio_path(folder: Path, key: str, trans: Path, line_no: int) -> Path:
    for suffix in (".flac", ".wav"):
        path = folder / f"{key}{suffix}"
        if path.is_file():
            return path
    raise UsageError(
        f"{trans}:{line_no}: no audio {key}.flac (or .wav) beside it; {_HINT} with its audio"
    )


def _read_chapter(trans: Path) -> list[Utterance]:
    """The utterances listed in one ``<speaker>-<chapter>.trans.txt``."""
    prefix = trans.name.removesuffix(".trans.txt") + "-"
    out = []
    for line_no, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, text = line.strip().partition(" ")
        if not key.startswith(prefix) or not text.strip():
            raise UsageError(f"{trans}:{line_no}: expected '{prefix}<utt> TRANSCRIPT'; {_HINT}")
        out.append(Utterance(key, _audio_path(trans.parent, key, trans, line_no), text.strip()))
    return out


def _trans_name(chapter: Path) -> str:
    return f"{chapter.parent.name}-{chapter.name}.trans.txt"


def find_transcripts(root: Path) -> list[Path]:
    """The chapter transcript files under ``root`` (one subset, or a folder of subsets)."""
    if not root.is_dir():
        raise UsageError(f"--data-dir {root}: no such directory; {_HINT}")
    for pattern in ("*/*/*-*.trans.txt", "*/*/*/*-*.trans.txt"):
        found = sorted(p for p in root.glob(pattern) if p.name == _trans_name(p.parent))
        if found:
            return found
    raise UsageError(f"--data-dir {root}: no <speaker>/<chapter>/*.trans.txt found; {_HINT}")


class LibriSpeech:
    """The utterances of a LibriSpeech subset, sorted by key; audio decoded on ``get``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        utts = [u for trans in find_transcripts(root) for u in _read_chapter(trans)]
        self._utts = sorted(utts, key=lambda u: u.key)

    @property
    def name(self) -> str:
        """Reported as the QSL name."""
        return f"LibriSpeech {self._root.name}"

    def __len__(self) -> int:
        return len(self._utts)

    def get(self, index: int) -> np.ndarray:
        """The utterance's audio, 16 kHz mono float32."""
        utt = self._utts[index]
        return decode(utt.audio, what=f"--data-dir: {utt.audio}")

    def label(self, index: int) -> str:
        """The reference transcript (LibriSpeech upper case; the scorer normalises)."""
        return self._utts[index].text

    def key(self, index: int) -> str:
        """The utterance id ``<speaker>-<chapter>-<utt>``."""
        return self._utts[index].key
