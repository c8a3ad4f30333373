"""safe_extract / open_tree: hostile archives are refused with a specific code, and
nothing is written outside the destination (or at all, when a check fails)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from mlmeter.errors import UsageError, UserError
from mlmeter.submission._archive import UnsafeArchive, open_tree, safe_extract

pytestmark = pytest.mark.timeout(60)


def _tar(path: Path, *members: tuple[tarfile.TarInfo, bytes | None], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:  # type: ignore[call-overload]
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o755  # asks for an executable: it must not be one
    return info, data


def _special(name: str, kind: bytes, linkname: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info, None


def _zip(path: Path, *members: tuple[str | zipfile.ZipInfo, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def _refused(archive: Path, dest: Path, code: str, **limits: int) -> UnsafeArchive:
    with pytest.raises(UnsafeArchive) as info:
        safe_extract(archive, dest, **limits)
    assert info.value.code == code, str(info.value)
    assert isinstance(info.value, UserError) and "\n" not in str(info.value)
    assert not dest.exists(), "nothing may be written when a check fails"
    return info.value


def _nothing_outside(tmp_path: Path, *names: str) -> None:
    for name in names:
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_tar_and_tgz_extract(tmp_path: Path, mode: str) -> None:
    suffix = ".tar" if mode == "w" else ".tgz"
    archive = _tar(
        tmp_path / f"t{suffix}",
        _file("tree/closed/Org/systems/s.json", b"{}"),
        _special("tree/closed/Org/code", tarfile.DIRTYPE),
        mode=mode,
    )
    dest = safe_extract(archive, tmp_path / "out")
    target = dest / "tree" / "closed" / "Org" / "systems" / "s.json"
    assert target.read_bytes() == b"{}"
    assert not target.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert (dest / "tree" / "closed" / "Org" / "code").is_dir()


def test_zip_extracts(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "t.zip", ("a/b.txt", b"hello"), ("a/c/", b""))
    dest = safe_extract(archive, tmp_path / "out")
    assert (dest / "a" / "b.txt").read_bytes() == b"hello"
    assert (dest / "a" / "c").is_dir()


def test_zip_dotdot_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "t.zip", ("ok.txt", b"1"), ("../x", b"evil"))
    _refused(archive, tmp_path / "out", "archive.path_traversal")
    _nothing_outside(tmp_path, "x")


@pytest.mark.parametrize("name", ["a/../../x", "..\\x", "a/b/../../../x"])
def test_tar_dotdot_is_refused(tmp_path: Path, name: str) -> None:
    archive = _tar(tmp_path / "t.tar", _file(name, b"evil"))
    _refused(archive, tmp_path / "out", "archive.path_traversal")
    _nothing_outside(tmp_path, "x")


@pytest.mark.parametrize("name", ["/abs/x", "C:/x", "\\\\host\\share\\x"])
def test_absolute_member_is_refused(tmp_path: Path, name: str) -> None:
    archive = _tar(tmp_path / "t.tar", _file(name, b"evil"))
    _refused(archive, tmp_path / "out", "archive.absolute_path")


def test_absolute_zip_member_is_refused(tmp_path: Path) -> None:
    raw = _zip_with_name(tmp_path / "u.zip", "/etc/x")
    _refused(raw, tmp_path / "out", "archive.absolute_path")


def _zip_with_name(path: Path, name: str) -> Path:
    """A zip whose member name is written as is (zipfile normalises leading slashes)."""
    placeholder = "p" * len(name)
    _zip(path, (placeholder, b"evil"))
    path.write_bytes(path.read_bytes().replace(placeholder.encode(), name.encode()))
    return path


@pytest.mark.parametrize(
    ("kind", "linkname"),
    [(tarfile.SYMTYPE, "/etc"), (tarfile.SYMTYPE, "inside.txt"), (tarfile.LNKTYPE, "/etc/passwd")],
)
def test_links_are_refused(tmp_path: Path, kind: bytes, linkname: str) -> None:
    archive = _tar(tmp_path / "t.tar", _file("inside.txt", b"1"), _special("etc", kind, linkname))
    _refused(archive, tmp_path / "out", "archive.link")


def test_symlink_then_write_through_it_is_refused(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "t.tar",
        _special("d", tarfile.SYMTYPE, str(tmp_path / "victim")),
        _file("d/x", b"evil"),
    )
    (tmp_path / "victim").mkdir()
    _refused(archive, tmp_path / "out", "archive.link")
    assert list((tmp_path / "victim").iterdir()) == []


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip(tmp_path / "t.zip", (info, b"/etc/passwd"))
    _refused(archive, tmp_path / "out", "archive.link")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_special_files_are_refused(tmp_path: Path, kind: bytes) -> None:
    archive = _tar(tmp_path / "t.tar", _special("dev", kind))
    _refused(archive, tmp_path / "out", "archive.special_file")


def test_zip_device_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("dev")
    info.external_attr = (stat.S_IFCHR | 0o666) << 16
    archive = _zip(tmp_path / "t.zip", (info, b""))
    _refused(archive, tmp_path / "out", "archive.special_file")


def test_declared_size_beyond_the_limit_is_refused_before_writing(tmp_path: Path) -> None:
    """A gzip bomb: 8 MiB of zeros compress to ~8 KiB; the limit is 1 MiB."""
    archive = _tar(tmp_path / "bomb.tgz", _file("zeros", bytes(8 << 20)), mode="w:gz")
    assert archive.stat().st_size < 64 << 10
    _refused(archive, tmp_path / "out", "archive.too_large", max_bytes=1 << 20)
    zipped = _zip(tmp_path / "bomb.zip", ("zeros", bytes(8 << 20)))
    _refused(zipped, tmp_path / "out2", "archive.too_large", max_bytes=1 << 20)


def test_total_over_many_members_counts(tmp_path: Path) -> None:
    members = [_file(f"f{i}", bytes(400)) for i in range(5)]
    archive = _tar(tmp_path / "t.tar", *members)
    _refused(archive, tmp_path / "out", "archive.too_large", max_bytes=1999)
    safe_extract(archive, tmp_path / "ok", max_bytes=2000)


def test_lying_tar_header_cannot_pass_the_limit(tmp_path: Path) -> None:
    """A pax header claims a huge size for a small ustar member: refused, nothing written."""
    info, data = _file("lies", b"x" * 10)
    info.pax_headers = {"size": str(10**12)}
    archive = tmp_path / "t.tar"
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(data))
    _refused(archive, tmp_path / "out", "archive.too_large", max_bytes=1 << 20)


def test_lying_tar_header_small_size_reads_no_more(tmp_path: Path) -> None:
    """The ustar header says 10 bytes, 1 MiB follows: only 10 bytes ever come out."""
    archive = _tar(tmp_path / "t.tar", _file("lies", b"x" * (1 << 20)))
    raw = bytearray(archive.read_bytes())
    raw[124:136] = b"%011o\0" % 10  # the size field
    raw[148:156] = b" " * 8
    raw[148:155] = b"%06o\0" % sum(raw[:512])  # a valid header checksum again
    archive.write_bytes(bytes(raw))
    out = tmp_path / "out"
    try:
        safe_extract(archive, out, max_bytes=100)
    except UnsafeArchive as exc:
        assert exc.code == "archive.corrupt"
        assert not out.exists()
    else:
        assert sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) <= 100


def test_lying_zip_size_fails_its_crc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The central directory says 10 bytes, the data is 4 MiB: refused, nothing kept."""
    archive = _zip(tmp_path / "t.zip", ("big", bytes(4 << 20)))
    monkeypatch.setattr(zipfile.ZipFile, "infolist", _lying_infolist(zipfile.ZipFile.infolist))
    _refused(archive, tmp_path / "out", "archive.corrupt", max_bytes=1 << 20)


def test_written_bytes_are_counted_whatever_the_header_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that trusts the data over the header (10 declared, 4 MiB produced)."""
    archive = _zip(tmp_path / "t.zip", ("big", b""))
    monkeypatch.setattr(zipfile.ZipFile, "infolist", _lying_infolist(zipfile.ZipFile.infolist))
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, info: io.BytesIO(bytes(4 << 20)))
    err = _refused(archive, tmp_path / "out", "archive.too_large", max_bytes=1 << 20)
    assert "more bytes than its header declares" in str(err)


def _lying_infolist(
    real: Callable[[zipfile.ZipFile], list[zipfile.ZipInfo]],
) -> Callable[[zipfile.ZipFile], list[zipfile.ZipInfo]]:
    def lying(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
        infos = real(zf)
        for i in infos:
            i.file_size = 10
        return infos

    return lying


def test_too_many_files(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "t.tar", *[_file(f"f{i}", b"") for i in range(11)])
    _refused(archive, tmp_path / "out", "archive.too_many_files", max_files=10)
    safe_extract(archive, tmp_path / "ok", max_files=11)


def test_not_an_archive_and_corrupt(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(os.urandom(1000))
    _refused(junk, tmp_path / "out", "archive.not_an_archive")
    fake_zip = tmp_path / "fake.zip"
    fake_zip.write_text("not a zip")
    _refused(fake_zip, tmp_path / "out", "archive.not_an_archive")
    good = _tar(tmp_path / "t.tgz", _file("a", os.urandom(50_000)), mode="w:gz")
    (tmp_path / "cut.tgz").write_bytes(good.read_bytes()[:20_000])
    _refused(tmp_path / "cut.tgz", tmp_path / "out", "archive.corrupt")


def test_finding_and_bad_names(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "t.tar", _file("a/./..", b""))
    err = _refused(archive, tmp_path / "out", "archive.path_traversal")
    finding = err.as_finding()
    assert (finding.code, finding.path) == ("archive.path_traversal", "t.tar")
    empty = _tar(tmp_path / "e.tar", _file("./", b""))
    _refused(empty, tmp_path / "out", "archive.bad_name")


def test_open_tree(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with open_tree(folder) as root:
        assert root == folder
    archive = _tar(tmp_path / "t.tgz", _file("sub/closed/x.txt", b"1"), mode="w:gz")
    with open_tree(archive) as root:
        assert root.name == "sub" and (root / "closed" / "x.txt").read_bytes() == b"1"
        kept = root
    assert not kept.exists()
    flat = _zip(tmp_path / "flat.zip", ("closed/x", b""), ("training/y", b""))
    with open_tree(flat) as root:
        assert sorted(p.name for p in root.iterdir()) == ["closed", "training"]
    with pytest.raises(UsageError, match="no such file"), open_tree(tmp_path / "missing.tgz"):
        pass
