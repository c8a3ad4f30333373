"""The file side of checkpointing: write with fsync, drop the page cache, read back, verify.

Each file is written in chunks of one reusable buffer of random bytes (it does not
compress); every 4 KiB block of a chunk is stamped with a 64-bit tag (file, chunk, block),
so no two blocks are equal (no dedup) and a read can be checked. :class:`FileIO` is the
seam for the system calls; tests inject failures (``ENOSPC``) through it.
"""

from __future__ import annotations

import errno
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlmeter.errors import MlmeterError, RunError, UserError

BLOCK = 4096
CHUNK_BYTES = 8 * 1024 * 1024
KINDS = ("model", "optim")
HAS_FADVISE = hasattr(os, "posix_fadvise")
_U64 = (1 << 64) - 1


class FileIO:
    """The system calls checkpointing makes; subclass to inject failures in tests."""

    def write(self, fd: int, data: memoryview) -> int:
        """``os.write``: the bytes written (maybe fewer than asked)."""
        return os.write(fd, data)

    def readinto(self, fd: int, buf: memoryview) -> int:
        """Read into ``buf``: the bytes read (0 at the end of the file)."""
        return os.readv(fd, [buf])

    def fsync(self, fd: int) -> None:
        """``os.fsync``."""
        os.fsync(fd)

    def drop_cache(self, fd: int) -> bool:
        """Evict the file's clean pages (``POSIX_FADV_DONTNEED``); False where unsupported."""
        if not HAS_FADVISE:
            return False
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True


@dataclass(frozen=True)
class FileSpec:
    """One file of one checkpoint: ``<folder>/checkpoint_<i>/rank_<w>_<kind>.bin``."""

    checkpoint: int
    world_rank: int
    kind: str
    nbytes: int

    def path(self, folder: Path) -> Path:
        """Where the file lives under ``folder``."""
        return checkpoint_dir(folder, self.checkpoint) / f"rank_{self.world_rank}_{self.kind}.bin"

    @property
    def file_id(self) -> int:
        """A number unique to this file in the run (it seeds the block tags)."""
        return (self.checkpoint << 22) | (self.world_rank << 1) | KINDS.index(self.kind)

    def sample_chunks(self, chunk_bytes: int) -> tuple[int, ...]:
        """The chunks whose checksum is verified after reading: first, middle, last."""
        last = max(0, -(-self.nbytes // chunk_bytes) - 1)
        return tuple(sorted({0, last // 2, last}))


def checkpoint_dir(folder: Path, index: int) -> Path:
    """The folder of checkpoint ``index``."""
    return folder / f"checkpoint_{index}"


class Pattern:
    """The bytes of every chunk: a fixed random buffer with per-block tags stamped in."""

    def __init__(self, seed: int, chunk_bytes: int = CHUNK_BYTES) -> None:
        if chunk_bytes % BLOCK:
            raise ValueError(f"chunk_bytes must be a multiple of {BLOCK}")
        rng = np.random.default_rng(seed)
        self.chunk_bytes = chunk_bytes
        self.buf = rng.integers(0, 256, chunk_bytes, dtype=np.uint8)
        self._tags = self.buf.view(np.uint64)[:: BLOCK // 8]
        self._blocks = np.arange(chunk_bytes // BLOCK, dtype=np.uint64)

    def chunk(self, spec: FileSpec, index: int) -> memoryview:
        """Chunk ``index`` of ``spec`` (valid until the next call), cut at the file's end."""
        base = ((spec.file_id << 40) | (index << 20)) & _U64
        self._tags[:] = np.uint64(base) + self._blocks
        size = min(self.chunk_bytes, spec.nbytes - index * self.chunk_bytes)
        return memoryview(self.buf.data)[:size]


def write_file(io: FileIO, pattern: Pattern, spec: FileSpec, folder: Path, fsync: bool) -> bool:
    """Write one file, fsync it, drop its cached pages; True if the cache drop was done."""
    fd = os.open(spec.path(folder), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for index in range(-(-spec.nbytes // pattern.chunk_bytes)):
            view = pattern.chunk(spec, index)
            while view:
                view = view[io.write(fd, view) :]
        if fsync:
            io.fsync(fd)
        return io.drop_cache(fd)
    finally:
        os.close(fd)


def sync_dir(io: FileIO, path: Path) -> None:
    """fsync a folder so that the new entries in it are durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        io.fsync(fd)
    finally:
        os.close(fd)


def read_file(io: FileIO, spec: FileSpec, folder: Path, buf: memoryview) -> dict[int, int]:
    """Read a file sequentially into ``buf``; the CRC-32 of its sampled chunks."""
    wanted = set(spec.sample_chunks(len(buf)))
    crcs: dict[int, int] = {}
    fd = os.open(spec.path(folder), os.O_RDONLY)
    try:
        for index in range(-(-spec.nbytes // len(buf))):
            size = min(len(buf), spec.nbytes - index * len(buf))
            got = 0
            while got < size:
                n = io.readinto(fd, buf[got:size])
                if n == 0:
                    raise RunError(f"{spec.path(folder)}: shorter than the {spec.nbytes} written")
                got += n
            if index in wanted:
                crcs[index] = zlib.crc32(buf[:size])
    finally:
        os.close(fd)
    return crcs


def expected_crc(pattern: Pattern, spec: FileSpec, index: int) -> int:
    """The CRC-32 chunk ``index`` of ``spec`` must have."""
    return zlib.crc32(pattern.chunk(spec, index))


def os_error(exc: OSError, folder: Path, needed: int) -> MlmeterError:
    """A one-line error for a failed file operation under ``folder``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(folder, needed)
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST):
        return UserError(
            f"--folder {folder} is not writable ({exc.strerror}): choose a folder you can write to"
        )
    return RunError(f"checkpoint I/O under {folder} failed: {exc}")


def disk_full(folder: Path, needed: int) -> UserError:
    """The disk-full error: the bytes needed and the bytes free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    return UserError(
        f"--folder {folder}: not enough space: the checkpoints need {needed:,} bytes "
        f"({needed / 1e9:.3f} GB), {free:,} bytes are free: free space, use another "
        "--folder, or lower --scale/--size-per-rank or --num-write"
    )
