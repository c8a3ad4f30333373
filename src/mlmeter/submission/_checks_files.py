"""Checks of what files a tree holds: required ones present, no unexpected extras, no
links, and every file the manifest lists still has the sha256 it was packaged with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mlmeter.logfmt._digest import sha256_file
from mlmeter.submission import _layout as L
from mlmeter.submission._checks_common import Context, entry_label, error, note
from mlmeter.submission._findings import Finding
from mlmeter.submission._model import InferenceEntry

_PERFORMANCE_DIRS = ("run_1", "power", "ranging")


def check_files(ctx: Context) -> Iterator[Finding]:
    """Required and unexpected files of every ``results/<system>/<benchmark>/<scenario>``."""
    files = ctx.round.files
    for entry in ctx.tree.inference:
        perf = entry.path / L.PERFORMANCE_RUN
        acc = entry.path / L.ACCURACY
        yield from _folder(ctx, entry, entry.path, files.scenario, files.scenario_optional)
        yield from _folder(ctx, entry, perf, files.performance, files.performance_optional)
        yield from _folder(ctx, entry, acc, files.accuracy, files.accuracy_optional)
        yield from _folder(ctx, entry, perf.parent, (), _PERFORMANCE_DIRS)


def _folder(
    ctx: Context, entry: InferenceEntry, folder: Path, required: tuple[str, ...],
    optional: tuple[str, ...],
) -> Iterator[Finding]:  # fmt: skip
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    for name in required:
        if name not in present:
            msg = f"{entry_label(entry)}: required file {name} is missing"
            yield error("files.missing", ctx.rel(folder / name), msg)
    for name in sorted(present - set(required) - set(optional)):
        msg = f"{entry_label(entry)}: unexpected {name} (allowed: {', '.join(required + optional)})"
        yield error("files.unexpected", ctx.rel(folder / name), msg)


def check_manifest(ctx: Context) -> Iterator[Finding]:
    """Every file ``mlmeter_submission.json`` lists exists with its sha256; no others."""
    doc = ctx.manifest
    if doc is None:
        yield note("files.no_manifest", L.MANIFEST, "no manifest: file hashes not checked")
        return
    if doc.get("format") != L.MANIFEST_FORMAT or not isinstance(doc.get("version"), int):
        msg = f"not an {L.MANIFEST_FORMAT} manifest (format {doc.get('format')!r})"
        yield error("manifest.format", L.MANIFEST, msg)
        return
    if doc["version"] > L.MANIFEST_VERSION:
        msg = f"manifest version {doc['version']} is newer than this mlmeter reads; upgrade it"
        yield error("manifest.version", L.MANIFEST, msg)
        return
    listed = doc.get("files")
    if not isinstance(listed, dict):
        yield error("manifest.format", L.MANIFEST, "the manifest has no 'files' object")
        return
    yield from _listed(ctx, listed)
    for rel in sorted(_all_files(ctx.tree.root) - set(listed) - {L.MANIFEST}):
        yield error("files.unlisted", rel, "not in the manifest: added after packaging")


def _listed(ctx: Context, listed: dict[str, object]) -> Iterator[Finding]:
    root = ctx.tree.root
    for rel, want in sorted(listed.items()):
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not isinstance(want, str):
            yield error("manifest.bad_entry", L.MANIFEST, f"bad manifest entry {rel!r}")
            continue
        path = root.joinpath(*pure.parts)
        if not path.is_file() or path.is_symlink():
            yield error("files.missing", rel, "listed in the manifest but missing")
            continue
        got = sha256_file(path)
        if got != want.lower():
            msg = f"sha256 {got} differs from the manifest's {want}: changed after packaging"
            yield error("files.hash_mismatch", rel, msg)


def check_links(ctx: Context) -> Iterator[Finding]:
    """No symbolic links anywhere in the tree (they may point outside it)."""
    for path in sorted(ctx.tree.root.rglob("*")):
        if path.is_symlink():
            msg = "a symbolic link; a tree holds only files and folders"
            yield error("files.link", ctx.rel(path), msg)


def _all_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }
