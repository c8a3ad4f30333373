"""Rows of a tree on disk: a folder, or an archive unpacked safely by the submission
layer's ``open_tree`` (no path traversal, no links outside, size limits)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mlmeter.errors import UsageError, UserError
from mlmeter.results._model import RunRow
from mlmeter.results._tree import rows_from_tree
from mlmeter.submission._archive import open_tree
from mlmeter.submission._loader import load_tree
from mlmeter.submission._model import Tree


def _rows(tree_or_root: Any) -> list[RunRow]:
    tree = tree_or_root if isinstance(tree_or_root, Tree) else load_tree(Path(tree_or_root))
    rows = rows_from_tree(tree)
    if not rows:
        raise UserError(f"{tree.root}: no inference or training results found in this tree")
    return rows


def load_rows(path: Path) -> list[RunRow]:
    """Load the tree at ``path`` (folder or archive) and return its rows.

    An archive is unpacked into a temporary folder that is gone afterwards, so its rows
    record the archive itself as where their logs are."""
    if path.is_dir():
        return _rows(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such tree folder or archive")
    with open_tree(path) as opened:
        rows = _rows(opened)
    return [replace(row, path=str(path.resolve())) for row in rows]
