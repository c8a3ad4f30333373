"""The training-data file formats datagen writes: npz, TFRecord framing and hdf5.

Each encoder turns one file's samples (a ``(samples, record_bytes)`` uint8 array) into the
bytes of the file, laid out as DLIO writes them:

* npz: ``np.savez`` with the array under ``x`` and the labels (zeros) under ``y``;
* tfrecord: one record per sample, framed as ``uint64 length | masked CRC32C(length) |
  data | masked CRC32C(data)`` (little-endian), the framing TensorFlow reads;
* hdf5: datasets ``records`` and ``labels`` (needs h5py: ``pip install 'mlmeter[storage]'``).

CRC32C (Castagnoli) uses ``google_crc32c`` when it is installed (C, GB/s) and a table in
pure Python otherwise (a few MB/s: fine for small datasets).
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlmeter.errors import UsageError

FORMATS = ("npz", "tfrecord", "hdf5")
EXTENSIONS = {"npz": "npz", "tfrecord": "tfrecord", "hdf5": "hdf5"}
TFRECORD_OVERHEAD = 16  # bytes of framing per record
_POLY = 0x82F63B78  # CRC32C, reflected
_MASK_DELTA = 0xA282EAD8


def _table() -> tuple[int, ...]:
    out = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        out.append(c)
    return tuple(out)


_TABLE = _table()


def crc32c_python(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC32C of ``data`` (continuing from ``crc``) with a byte table, in pure Python."""
    table = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in bytes(data):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _fast_crc32c() -> Callable[[bytes], int] | None:
    try:
        import google_crc32c  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return None
    value: Callable[[bytes], int] = google_crc32c.value
    return value


_FAST = _fast_crc32c()


def crc32c(data: bytes | memoryview) -> int:
    """CRC32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    if _FAST is not None:
        return int(_FAST(bytes(data)))
    return crc32c_python(data)


def masked_crc32c(data: bytes | memoryview) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits, add a constant (mod 2^32)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def tfrecord_frame(payload: bytes | memoryview) -> bytes:
    """One record in TFRecord framing."""
    header = struct.pack("<Q", len(payload))
    return b"".join(
        (
            header,
            struct.pack("<I", masked_crc32c(header)),
            bytes(payload),
            struct.pack("<I", masked_crc32c(payload)),
        )
    )


def encode_tfrecord(samples: np.ndarray[Any, Any]) -> bytes:
    """A file of ``len(samples)`` records, one per row."""
    return b"".join(tfrecord_frame(row.tobytes()) for row in samples)


def encode_npz(samples: np.ndarray[Any, Any]) -> bytes:
    """An uncompressed npz with ``x`` (the samples) and ``y`` (zero labels), as DLIO writes."""
    buf = io.BytesIO()
    np.savez(buf, x=samples, y=np.zeros(len(samples), dtype=np.int64))
    return buf.getvalue()


def encode_hdf5(samples: np.ndarray[Any, Any]) -> bytes:
    """An hdf5 file with ``records`` (the samples) and ``labels`` (zeros)."""
    h5py = require_h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("records", data=samples)
        f.create_dataset("labels", data=np.zeros(len(samples), dtype=np.int64))
    return buf.getvalue()


def require_h5py() -> Any:
    """The h5py module, or a one-line error saying how to install it."""
    try:
        import h5py  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise UsageError(
            "the hdf5 format needs h5py: pip install 'mlmeter[storage]' (or use --format npz)"
        ) from None
    return h5py


ENCODERS: dict[str, Callable[[np.ndarray[Any, Any]], bytes]] = {
    "npz": encode_npz,
    "tfrecord": encode_tfrecord,
    "hdf5": encode_hdf5,
}


def encoder(fmt: str) -> Callable[[np.ndarray[Any, Any]], bytes]:
    """The encoder of ``fmt``; for hdf5, checks that h5py is importable first."""
    if fmt not in ENCODERS:
        raise UsageError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "hdf5":
        require_h5py()
    return ENCODERS[fmt]


def estimated_file_bytes(fmt: str, samples: int, record_bytes: int) -> int:
    """An upper estimate of a file's size on disk, for the free-space check."""
    payload = samples * record_bytes
    if fmt == "tfrecord":
        return payload + samples * TFRECORD_OVERHEAD
    return payload + 8 * samples + 4096  # int64 labels; zip/.npy or hdf5 headers


# -- the dataset manifest (ours): DATA/mlmeter_dataset.json -------------------------------

MANIFEST_NAME = "mlmeter_dataset.json"
MANIFEST_FORMAT = "mlmeter.storage_dataset"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class DatasetManifest:
    """A generated dataset as its manifest describes it (paths relative to ``root``)."""

    root: Path
    workload: str
    accelerator: str
    file_format: str
    samples_per_file: int
    paths: tuple[str, ...]
    file_bytes: tuple[int, ...]
    record_bytes: tuple[int, ...]
    seed: int
    official_size: bool
    data: dict[str, Any]  # the whole document, for fields not named above

    @property
    def files(self) -> int:
        """How many data files."""
        return len(self.paths)

    @property
    def samples(self) -> int:
        """Samples in the whole dataset."""
        return self.files * self.samples_per_file

    @property
    def total_bytes(self) -> int:
        """Bytes of every data file on disk."""
        return sum(self.file_bytes)

    def file_paths(self) -> list[Path]:
        """Absolute paths of the data files."""
        return [self.root / p for p in self.paths]


def read_manifest(root: str | Path) -> DatasetManifest:
    """The manifest of the dataset in ``root``; a one-line error if there is none."""
    root = Path(root)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise UsageError(
            f"{root}: no mlmeter dataset here ({MANIFEST_NAME} is missing): "
            f"run `mlmeter storage datagen WORKLOAD --data {root}` first"
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, not {MANIFEST_FORMAT!r}")
        if doc.get("version") != MANIFEST_VERSION:
            raise ValueError(f"version {doc.get('version')!r}; this mlmeter reads version 1")
        entries = doc["file_list"]
        return DatasetManifest(
            root=root,
            workload=str(doc["workload"]),
            accelerator=str(doc["accelerator"]),
            file_format=str(doc["file_format"]),
            samples_per_file=int(doc["samples_per_file"]),
            paths=tuple(str(e["path"]) for e in entries),
            file_bytes=tuple(int(e["bytes"]) for e in entries),
            record_bytes=tuple(int(e["record_bytes"]) for e in entries),
            seed=int(doc["seed"]),
            official_size=bool(doc["official_size"]),
            data=doc,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(
            f"{path}: not a readable mlmeter dataset manifest ({exc}): "
            "generate the dataset again with `mlmeter storage datagen`"
        ) from None
