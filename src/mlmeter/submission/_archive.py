"""Unpack a submission archive (``.tar``, ``.tar.gz``/``.tgz``, ``.zip``) safely.

Every member is checked before anything is written: no absolute path, no ``..``, no link
(symbolic or hard), no device, FIFO or other special file, at most ``max_files`` members
and at most ``max_bytes`` declared. While writing, the bytes actually produced are counted
too, so a member whose header lies about its size cannot exceed the limit. Files are
written with mode 0644 and folders with 0755 whatever the archive says: nothing
extracted is executable, and nothing in an archive is run.

A violation raises ``UnsafeArchive`` (a ``UserError``) whose ``code`` names it::

    archive.not_an_archive   neither a tar (any compression) nor a zip file
    archive.absolute_path    a member named /x, C:\\x or \\\\host\\x
    archive.path_traversal   a member whose path has a ``..`` component
    archive.bad_name         an empty member name, or one with a NUL byte
    archive.link             a symbolic or hard link
    archive.special_file     a device, FIFO or other non-regular member
    archive.too_many_files   more than ``max_files`` members
    archive.too_large        more than ``max_bytes`` (declared or written)
    archive.corrupt          the archive cannot be read to the end
"""

from __future__ import annotations

import contextlib
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from mlmeter.errors import UsageError, UserError
from mlmeter.submission._findings import Finding, Severity

MAX_BYTES = 4 << 30  # 4 GiB
MAX_FILES = 100_000
_CHUNK = 1 << 20
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


class UnsafeArchive(UserError):
    """An archive that cannot be unpacked safely; ``code`` says why (``archive.*``)."""

    def __init__(self, code: str, archive: Path, message: str, member: str = "") -> None:
        where = f" (member {member!r})" if member else ""
        super().__init__(f"{archive}: {message}{where}")
        self.code = code
        self.archive = archive
        self.member = member
        self.detail = f"{message}{where}"

    def as_finding(self, path: str = "") -> Finding:
        """The error as a finding about ``path`` (default: the archive's name)."""
        return Finding(Severity.ERROR, self.code, path or self.archive.name, self.detail)


@dataclass(frozen=True)
class _Member:
    """A checked member: its safe relative path, whether a folder, declared size."""

    rel: PurePosixPath
    is_dir: bool
    size: int
    open: Callable[[], IO[bytes]]


def safe_extract(
    archive: Path, dest: Path, *, max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES
) -> Path:
    """Check every member of ``archive``, then unpack it into ``dest``; return ``dest``."""
    archive, dest = Path(archive), Path(dest)
    created = not dest.exists()
    try:
        with _open(archive) as members:
            checked = _check_all(archive, members, max_bytes, max_files)
            dest.mkdir(parents=True, exist_ok=True)
            _write_all(archive, dest.resolve(), checked, max_bytes)
    except UnsafeArchive:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


@contextlib.contextmanager
def open_tree(path: Path) -> Iterator[Path]:
    """A folder as is; an archive unpacked (safely) into a temporary folder, removed after.

    When the archive holds one top folder and nothing else, that folder is yielded.
    """
    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise UsageError(f"{path}: no such file or folder; give a submission tree or archive")
    with tempfile.TemporaryDirectory(prefix="mlmeter-tree-") as tmp:
        root = safe_extract(path, Path(tmp) / "tree")
        entries = list(root.iterdir())
        yield entries[0] if len(entries) == 1 and entries[0].is_dir() else root


# --- reading members ------------------------------------------------------------------


@contextlib.contextmanager
def _open(archive: Path) -> Iterator[Iterator[_Member | UnsafeArchive]]:
    if not archive.is_file():
        raise UsageError(f"{archive}: no such archive file")
    name = archive.name.lower()
    is_zip = name.endswith(".zip") or (
        not name.endswith(_TAR_SUFFIXES) and zipfile.is_zipfile(archive)
    )
    try:
        handle: zipfile.ZipFile | tarfile.TarFile = (
            zipfile.ZipFile(archive) if is_zip else tarfile.open(archive, "r:*")  # noqa: SIM115
        )
    except (*_READ_ERRORS, ValueError) as exc:
        msg = f"not a tar or zip archive ({_brief(exc)}); give a .tar, .tar.gz, .tgz or .zip"
        raise UnsafeArchive("archive.not_an_archive", archive, msg) from None
    with handle:
        try:
            if isinstance(handle, zipfile.ZipFile):
                yield _zip_members(archive, handle)
            else:
                yield _tar_members(archive, handle)
        except _READ_ERRORS as exc:
            msg = f"unreadable ({_brief(exc)}); the archive is damaged or truncated"
            raise UnsafeArchive("archive.corrupt", archive, msg) from None


def _brief(exc: BaseException) -> str:
    """The first line of an error's text (tarfile's can span several lines)."""
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:160]


_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error)


def _tar_members(archive: Path, tf: tarfile.TarFile) -> Iterator[_Member | UnsafeArchive]:
    for info in tf:
        yield _tar_member(archive, tf, info)


def _tar_member(
    archive: Path, tf: tarfile.TarFile, info: tarfile.TarInfo
) -> _Member | UnsafeArchive:
    name = info.name
    if info.issym() or info.islnk():
        kind = "symbolic" if info.issym() else "hard"
        msg = f"a {kind} link (to {info.linkname!r}); archives may not contain links"
        return UnsafeArchive("archive.link", archive, msg, name)
    if not (info.isreg() or info.isdir()):
        msg = "a device, FIFO or other special file; only files and folders are allowed"
        return UnsafeArchive("archive.special_file", archive, msg, name)
    rel = _safe_name(archive, name)
    if isinstance(rel, UnsafeArchive):
        return rel
    return _Member(rel, info.isdir(), max(info.size, 0), lambda: _tar_read(tf, info))


def _tar_read(tf: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    f = tf.extractfile(info)
    if f is None:  # pragma: no cover - regular files always have data
        raise tarfile.ReadError(f"no data for {info.name}")
    return f


def _zip_members(archive: Path, zf: zipfile.ZipFile) -> Iterator[_Member | UnsafeArchive]:
    for info in zf.infolist():
        yield _zip_member(archive, zf, info)


def _zip_member(
    archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo
) -> _Member | UnsafeArchive:
    kind = stat.S_IFMT(info.external_attr >> 16)  # 0: a zip that records no file type
    if kind == stat.S_IFLNK:
        msg = "a symbolic link; archives may not contain links"
        return UnsafeArchive("archive.link", archive, msg, info.filename)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        msg = "a device, FIFO or other special file; only files and folders are allowed"
        return UnsafeArchive("archive.special_file", archive, msg, info.filename)
    rel = _safe_name(archive, info.filename)
    if isinstance(rel, UnsafeArchive):
        return rel
    return _Member(rel, info.is_dir(), max(info.file_size, 0), lambda: zf.open(info))


_DRIVE = re.compile(r"^[A-Za-z]:")


def _safe_name(archive: Path, name: str) -> PurePosixPath | UnsafeArchive:
    """The member's path, relative and without ``..``; backslashes count as separators."""
    if not name or "\x00" in name:
        return UnsafeArchive("archive.bad_name", archive, "an empty name or a NUL byte", name)
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        msg = "an absolute path; members must be relative to the archive's root"
        return UnsafeArchive("archive.absolute_path", archive, msg, name)
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if ".." in parts:
        msg = "a '..' in the path would write outside the destination"
        return UnsafeArchive("archive.path_traversal", archive, msg, name)
    if not parts:
        return UnsafeArchive("archive.bad_name", archive, "the member names no path", name)
    return PurePosixPath(*parts)


# --- checking and writing -------------------------------------------------------------


def _check_all(
    archive: Path, members: Iterator[_Member | UnsafeArchive], max_bytes: int, max_files: int
) -> list[_Member]:
    checked: list[_Member] = []
    declared = 0
    for item in members:
        if isinstance(item, UnsafeArchive):
            raise item
        checked.append(item)
        declared += item.size
        if len(checked) > max_files:
            msg = f"more than {max_files} members (the limit); unpack it yourself if expected"
            raise UnsafeArchive("archive.too_many_files", archive, msg)
        if declared > max_bytes:
            msg = f"declares more than {max_bytes} bytes (the limit) when unpacked"
            raise UnsafeArchive("archive.too_large", archive, msg, item.rel.as_posix())
    return checked


def _write_all(archive: Path, dest: Path, members: list[_Member], max_bytes: int) -> None:
    budget = max_bytes
    for m in members:
        target = dest.joinpath(*m.rel.parts)
        if not target.resolve().is_relative_to(dest):  # defence in depth
            msg = "resolves outside the destination"
            raise UnsafeArchive("archive.path_traversal", archive, msg, m.rel.as_posix())
        if m.is_dir:
            target.mkdir(mode=0o755, parents=True, exist_ok=True)
            continue
        budget -= _write_file(archive, target, m, budget)


def _write_file(archive: Path, target: Path, m: _Member, budget: int) -> int:
    """Copy one member, at most ``budget`` bytes; return the bytes written."""
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    written = 0
    with m.open() as src, target.open("xb") as out:
        while chunk := src.read(min(_CHUNK, budget - written + 1)):
            written += len(chunk)
            if written > budget:
                msg = "unpacks to more bytes than its header declares, past the limit"
                raise UnsafeArchive("archive.too_large", archive, msg, m.rel.as_posix())
            out.write(chunk)
    target.chmod(0o644)
    return written
