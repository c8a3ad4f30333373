"""SmolLM2-135M for fine-tuning: the shared loader (``mlmeter.workloads._smollm2``).

``verified_gguf_path`` is this module's own (it checks whatever this module's
``gguf_path`` returns, so a test can point it at another file); the rest is re-exported.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mlmeter.workloads._smollm2 import (
    GGUF_FILE,
    INSTALL_FIX,
    PACKAGE,
    SHA256_PREFIX,
    BaseModel,
    check_gguf,
    gguf_path,
    load_base,
    new_causal_lm,
)

__all__ = [
    "GGUF_FILE",
    "INSTALL_FIX",
    "PACKAGE",
    "SHA256_PREFIX",
    "BaseModel",
    "gguf_path",
    "load_base",
    "new_causal_lm",
    "verified_gguf_path",
]


@functools.cache
def verified_gguf_path() -> Path:
    """``gguf_path()`` after checking its sha256 (once per process)."""
    return check_gguf(gguf_path())
