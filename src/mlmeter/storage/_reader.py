"""Readers for the training formats datagen writes: npz, TFRecord framing, hdf5.

A file is read whole with large sequential ``readinto`` calls into a buffer that each
thread (or worker process) reuses, then decoded from memory: ``np.load`` for npz, a walk
over the TFRecord framing (``uint64 length, masked CRC32C, data, masked CRC32C``; the CRCs
checked only with ``verify_crc``) and h5py for hdf5 (optional). What comes back is a small
:class:`FileRead` (samples and bytes), so a worker process never ships data back.

Test seams: ``delay_s`` sleeps after each file (a slow device), and a shared
:class:`Throttle` caps the bytes per second of every reader thread together.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmeter.errors import RunError, UsageError
from mlmeter.storage._formats import masked_crc32c, require_h5py

MIB = 2**20
DEFAULT_BLOCK_BYTES = MIB  # 1 MiB reads: measured faster than 4 or 16 MiB here
_local = threading.local()


@dataclass(frozen=True)
class ReadOptions:
    """How to read one dataset's files (picklable: it travels to worker processes)."""

    format: str
    samples_per_file: int
    block_bytes: int = DEFAULT_BLOCK_BYTES
    decode: bool = True
    verify_crc: bool = False
    delay_s: float = 0.0


@dataclass(frozen=True)
class FileRead:
    """What reading one file gave: its samples and its bytes."""

    samples: int
    nbytes: int


class Throttle:
    """A device of fixed bandwidth shared by all reader threads (a test seam).

    Each read reserves ``nbytes / rate`` seconds of the device after the last reservation
    and sleeps until its slot ends, so the readers together never exceed the rate.
    """

    def __init__(self, bytes_per_s: float) -> None:
        if bytes_per_s <= 0:
            raise ValueError("a throttle needs a positive rate")
        self.bytes_per_s = bytes_per_s
        self._lock = threading.Lock()
        self._free_at = 0.0

    def take(self, nbytes: int) -> None:
        """Wait for the device to have moved ``nbytes``."""
        with self._lock:
            start = max(time.perf_counter(), self._free_at)
            self._free_at = start + nbytes / self.bytes_per_s
            done = self._free_at
        time.sleep(max(0.0, done - time.perf_counter()))


def _buffer(size: int) -> bytearray:
    """This thread's reusable buffer, grown to at least ``size`` bytes."""
    buf: bytearray | None = getattr(_local, "buf", None)
    if buf is None or len(buf) < size:
        buf = bytearray(max(size, 4 * MIB))
        _local.buf = buf
    return buf


def read_bytes(path: str | os.PathLike[str], block_bytes: int = DEFAULT_BLOCK_BYTES) -> memoryview:
    """The whole file, read sequentially in ``block_bytes`` pieces into the thread's buffer.

    The view is valid until this thread's next read.
    """
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        view = memoryview(_buffer(size + 1))
        got = 0
        while True:  # read past st_size once: the file may have grown, and EOF is certain
            n = f.readinto(view[got : got + block_bytes])
            if not n:
                break
            got += n
            if got == len(view):
                raise RunError(f"{path}: the file grew while it was read")
    return view[:got]


def read_file(path: str, opts: ReadOptions, throttle: Throttle | None = None) -> FileRead:
    """Read and decode one file; its samples and bytes (a top-level function: picklable)."""
    data = read_bytes(path, opts.block_bytes)
    if throttle is not None:
        throttle.take(len(data))
    samples = decode(path, data, opts) if opts.decode else opts.samples_per_file
    if opts.delay_s > 0:
        time.sleep(opts.delay_s)
    return FileRead(samples, len(data))


def decode(path: str, data: memoryview, opts: ReadOptions) -> int:
    """Decode a file's bytes as its format; the number of samples found."""
    if opts.format == "tfrecord":
        return len(tfrecord_offsets(data, verify_crc=opts.verify_crc, path=path))
    if opts.format == "npz":
        return _decode_npz(path, data, opts.samples_per_file)
    if opts.format == "hdf5":
        return _decode_hdf5(path, data)
    raise UsageError(f"{path}: unknown format {opts.format!r}; use npz, tfrecord or hdf5")


def _decode_npz(path: str, data: memoryview, samples: int) -> int:
    try:
        arrays = npz_arrays(data)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, struct.error) as exc:
        raise RunError(f"{path}: not a readable npz file ({exc})") from None
    x = arrays.get("x")
    return int(x.shape[0]) if x is not None and x.ndim else samples


def npz_arrays(data: memoryview) -> dict[str, np.ndarray[Any, Any]]:
    """The arrays of an npz held in memory: views into ``data`` when stored uncompressed
    (as datagen and DLIO write them), else decompressed copies via ``np.load``."""
    with zipfile.ZipFile(_ViewFile(data)) as zf:
        infos = zf.infolist()
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    return {i.filename.removesuffix(".npy"): _npy_view(data, _member_start(data, i)) for i in infos}


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip local file header (30 bytes)


def _member_start(data: memoryview, info: zipfile.ZipInfo) -> int:
    fields = _LOCAL_HEADER.unpack_from(data, info.header_offset)
    if fields[0] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"no local header for {info.filename}")
    return info.header_offset + _LOCAL_HEADER.size + int(fields[-2]) + int(fields[-1])


def _npy_view(data: memoryview, start: int) -> np.ndarray[Any, Any]:
    """A ``.npy`` member as an array over ``data`` (no copy)."""
    head = io.BytesIO(data[start : start + 4096])
    version = np.lib.format.read_magic(head)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
    if dtype.hasobject:
        raise ValueError("object arrays are refused (they need pickle)")
    count = int(np.prod(shape))
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=start + head.tell())
    return flat.reshape(shape, order="F" if fortran else "C")


class _ViewFile(io.RawIOBase):
    """A read-only, seekable file over a memoryview, for ``zipfile`` (no copy of the data)."""

    def __init__(self, data: memoryview) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, b: Any) -> int:
        chunk = self._data[self._pos : self._pos + len(b)]
        b[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def _decode_hdf5(path: str, data: memoryview) -> int:
    h5py = require_h5py()
    with h5py.File(io.BytesIO(data), "r") as f:
        arrays = {name: f[name][()] for name in f}
    records = arrays.get("records")
    if records is None:
        raise RunError(f"{path}: no 'records' dataset in this hdf5 file")
    return int(records.shape[0])


_HEADER = struct.Struct("<QI")


def tfrecord_offsets(
    data: memoryview | bytes, *, verify_crc: bool = False, path: str = "<bytes>"
) -> list[tuple[int, int]]:
    """(offset, length) of each record's payload in TFRecord framing; checks the framing."""
    out: list[tuple[int, int]] = []
    off, end = 0, len(data)
    while off < end:
        if off + 12 > end:
            raise RunError(f"{path}: truncated TFRecord header at byte {off}")
        length, len_crc = _HEADER.unpack_from(data, off)
        start = off + 12
        if start + length + 4 > end:
            raise RunError(f"{path}: truncated TFRecord record at byte {off}")
        if verify_crc:
            _check_crcs(data, off, length, len_crc, path)
        out.append((start, length))
        off = start + length + 4
    return out


def _check_crcs(data: memoryview | bytes, off: int, length: int, len_crc: int, path: str) -> None:
    (data_crc,) = struct.unpack_from("<I", data, off + 12 + length)
    if masked_crc32c(bytes(data[off : off + 8])) != len_crc:
        raise RunError(f"{path}: bad TFRecord length CRC at byte {off}")
    if masked_crc32c(bytes(data[off + 12 : off + 12 + length])) != data_crc:
        raise RunError(f"{path}: bad TFRecord data CRC at byte {off}")
