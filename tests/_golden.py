"""The one golden-file check every test uses.

``check_golden(path, text)``: ``text`` must equal the file at ``path`` byte for byte.
``UPDATE_GOLDEN=1 pytest ...`` rewrites the files instead; review the diff after.
(``tests/`` is on ``sys.path`` because ``tests/conftest.py`` lives there.)
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def check_golden(path: Path | str, text: str) -> None:
    """Compare ``text`` with the golden file ``path`` (a name is taken under
    ``tests/golden``), or rewrite it under ``UPDATE_GOLDEN=1``."""
    path = GOLDEN / path if isinstance(path, str) else path
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"missing golden file {path.name}: run with UPDATE_GOLDEN=1"
    assert text == path.read_bytes().decode("utf-8")
