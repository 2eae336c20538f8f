"""Minimal safetensors reader/writer (numpy only; the `safetensors` package is not installed).

Format: 8-byte little-endian u64 header length, a JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, padded with spaces to a
multiple of 8 bytes, then the tensor bytes packed in header order (offsets relative to the data start).
BF16 is handled as raw uint16: bf16 -> f32 puts the 16 bits in the high half of the f32 word.
"""
import json
import struct

import numpy as np

_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "U8": 1}
_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def f32_to_bf16_bits(x):
    """Round float32 values to bfloat16 (round to nearest even) and return the uint16 bit patterns."""
    u = np.ascontiguousarray(x, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    if np.isnan(x).any():
        raise ValueError("NaN in a tensor headed for BF16")
    return rounded.astype("<u2")


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def encode(array, dtype):
    """float array -> (bytes, dtype) in storage dtype `dtype`."""
    a = np.asarray(array)
    if dtype == "BF16":
        return f32_to_bf16_bits(a.astype(np.float32)).tobytes()
    return np.ascontiguousarray(a, dtype=_NP[dtype]).tobytes()


def decode(raw, dtype, shape):
    """bytes -> float64 (floats) or int array, exactly the stored values."""
    a = np.frombuffer(raw, dtype=_NP[dtype]).reshape(shape)
    if dtype == "BF16":
        a = bf16_bits_to_f32(a)
    return a.astype(np.float64) if dtype.startswith(("F", "B")) else a.copy()


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, array, dtype) in the order they are packed."""
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, array, dtype in tensors:
        if name in header:
            raise ValueError(f"duplicate tensor name {name}")
        data = encode(array, dtype)
        shape = list(np.shape(array))
        assert len(data) == int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
    return offset


def read_safetensors(path):
    """-> (dict name -> array (float64 for float dtypes), dict name -> dtype, metadata)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    arrays, dtypes, end = {}, {}, 0
    for name, info in header.items():
        b, e = info["data_offsets"]
        if e - b != int(np.prod(info["shape"], dtype=np.int64)) * _ITEMSIZE[info["dtype"]]:
            raise ValueError(f"{path}: {name}: byte range does not match shape/dtype")
        arrays[name] = decode(data[b:e], info["dtype"], info["shape"])
        dtypes[name] = info["dtype"]
        end = max(end, e)
    if end != len(data):
        raise ValueError(f"{path}: {len(data) - end} trailing bytes after the last tensor")
    return arrays, dtypes, meta
