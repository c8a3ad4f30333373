"""Audio decoding to the model's input: 16 kHz mono float32 in [-1, 1).

Decoding goes through faster-whisper's ``decode_audio`` (PyAV/FFmpeg), which reads
FLAC, WAV and the other FFmpeg formats from a path or a file-like object.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from mlmeter.errors import UsageError

SAMPLE_RATE = 16_000


def decode(source: Path | BinaryIO, *, what: str) -> np.ndarray:
    """Decode ``source`` to 16 kHz mono float32; ``what`` names it in errors."""
    from faster_whisper import decode_audio

    arg = str(source) if isinstance(source, Path) else source
    try:
        audio = decode_audio(arg, sampling_rate=SAMPLE_RATE)
    except (OSError, ValueError) as exc:  # PyAV's FFmpegError subclasses both
        raise UsageError(f"{what}: cannot decode audio ({exc}); give a FLAC or WAV file") from None
    if audio.size == 0:
        raise UsageError(f"{what}: cannot decode audio (no samples); give a FLAC or WAV file")
    return np.ascontiguousarray(audio, dtype=np.float32)
