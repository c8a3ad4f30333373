"""A run's log files, read only from the folder its row records, never outside it.

A file is served only when every part of its name is a plain name (no ``..``, no
absolute path, no backslash or NUL), no part of the way from the folder is a symbolic
link, and it is a regular file; it is opened without following links. Anything else is
"not there" (404), so the answer says nothing about what lies outside the folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

MAX_FILES = 500
MAX_DEPTH = 8
CHUNK = 1 << 16


def log_root(path: str) -> Path | None:
    """The run's log folder (resolved), or ``None`` when it is not an existing folder."""
    if not path or "\x00" in path:
        return None
    try:
        root = Path(path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return root if root.is_dir() else None


def list_logs(root: Path) -> list[str]:
    """Regular files under ``root`` (relative, ``/``-separated, sorted), not following
    links, at most ``MAX_FILES`` of them and ``MAX_DEPTH`` folders deep."""
    out: list[str] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        rel = Path(top).relative_to(root)
        if len(rel.parts) >= MAX_DEPTH:
            dirs.clear()
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(top, d)))
        for name in sorted(files):
            full = os.path.join(top, name)
            if not os.path.islink(full) and os.path.isfile(full):
                out.append((rel / name).as_posix())
    return sorted(out)[:MAX_FILES]


def safe_parts(name: str) -> list[str] | None:
    """The parts of a relative file name, or ``None`` when any part could leave the folder."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return None
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts) or len(parts) > MAX_DEPTH + 1:
        return None
    return parts


def open_log(root: Path, name: str) -> BinaryIO | None:
    """The file ``name`` inside ``root`` opened for reading, or ``None`` when it is not a
    regular file reached without links (the caller closes it)."""
    parts = safe_parts(name)
    if parts is None:
        return None
    here = root
    for part in parts:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(here, flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The file's bytes in chunks; closes it at the end (or when abandoned)."""
    with handle:
        while block := handle.read(CHUNK):
            yield block
