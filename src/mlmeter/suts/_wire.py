"""The wire format of ``mlmeter serve`` and ``HttpSUT``: batches of arrays and of bytes.

Wire format, version 1 (``application/x-mlmeter-batch``), all integers little-endian::

    header   magic "MLMB" | u8 version (1) | u8 kind (1 inputs, 2 outputs) | u16 0 | u32 count
    input    u8 len | dtype (numpy dtype.str, ASCII) | u8 ndim | u32 x ndim shape
             | u64 nbytes | the array's bytes (C order)
    output   u32 nbytes | the bytes the SUT hands to the loadgen

Inputs are the QSL's preprocessed arrays, so the data crosses the network as the
network division requires; outputs are exactly the bytes a local SUT would hand to the
loadgen, so accuracy logs are scored the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

CONTENT_TYPE = "application/x-mlmeter-batch"
WIRE_VERSION = 1
_HEAD = struct.Struct("<4sBBHI")
_MAGIC = b"MLMB"
_INPUTS, _OUTPUTS = 1, 2


class WireError(ValueError):
    """A body that is not a valid mlmeter batch."""


def encode_inputs(arrays: Sequence[Any], prefix: bytes = b"") -> bytes:
    """``prefix`` (e.g. an HTTP request head) followed by the framed arrays, in one copy."""
    parts: list[Any] = [prefix, _HEAD.pack(_MAGIC, WIRE_VERSION, _INPUTS, 0, len(arrays))]
    for item in arrays:
        a = np.asarray(item, order="C")  # ascontiguousarray would make 0-d arrays 1-d
        if a.dtype.hasobject:
            raise WireError(f"cannot send an array of Python objects ({a.dtype})")
        dt = a.dtype.str.encode("ascii")
        head = struct.pack(f"<B{len(dt)}sB{a.ndim}IQ", len(dt), dt, a.ndim, *a.shape, a.nbytes)
        parts.append(head)
        parts.append(a.data if a.nbytes else b"")
    return b"".join(parts)


def decode_inputs(body: bytes | bytearray) -> list[np.ndarray]:
    """The arrays of an inputs body (writable views of one copy of the body)."""
    buf = bytearray(body)
    count, pos = _read_head(buf, _INPUTS)
    out = []
    try:
        for _ in range(count):
            (n,) = struct.unpack_from("<B", buf, pos)
            dtype = np.dtype(bytes(buf[pos + 1 : pos + 1 + n]).decode("ascii"))
            pos += 1 + n
            (ndim,) = struct.unpack_from("<B", buf, pos)
            shape = struct.unpack_from(f"<{ndim}I", buf, pos + 1)
            (nbytes,) = struct.unpack_from("<Q", buf, pos + 1 + 4 * ndim)
            pos += 9 + 4 * ndim
            if dtype.hasobject or pos + nbytes > len(buf):
                raise WireError("an input is truncated or holds Python objects")
            arr = np.frombuffer(buf, dtype, nbytes // max(dtype.itemsize, 1), pos)
            out.append(arr.reshape(shape))
            pos += nbytes
    except (struct.error, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed inputs: {exc}") from None
    return out


def encode_outputs(outputs: Sequence[bytes]) -> bytes:
    """The framed response payloads."""
    parts: list[bytes] = [_HEAD.pack(_MAGIC, WIRE_VERSION, _OUTPUTS, 0, len(outputs))]
    for out in outputs:
        parts.append(struct.pack("<I", len(out)))
        parts.append(out)
    return b"".join(parts)


def decode_outputs(body: bytes, expected: int) -> list[bytes]:
    """The payloads of an outputs body, which must hold ``expected`` of them."""
    count, pos = _read_head(body, _OUTPUTS)
    if count != expected:
        raise WireError(f"{count} outputs for {expected} inputs")
    out = []
    for _ in range(count):
        if pos + 4 > len(body):
            raise WireError("truncated outputs")
        (n,) = struct.unpack_from("<I", body, pos)
        if pos + 4 + n > len(body):
            raise WireError("truncated outputs")
        out.append(body[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def _read_head(buf: bytes | bytearray, kind: int) -> tuple[int, int]:
    if len(buf) < _HEAD.size:
        raise WireError("body shorter than the batch header")
    magic, version, got, _, count = _HEAD.unpack_from(buf, 0)
    if magic != _MAGIC or got != kind:
        raise WireError("not an mlmeter batch (bad magic or kind)")
    if version != WIRE_VERSION:
        raise WireError(f"wire format version {version}; this mlmeter speaks {WIRE_VERSION}")
    return count, _HEAD.size
