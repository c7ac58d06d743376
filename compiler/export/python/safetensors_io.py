# safetensors_io.py: safetensors files as mira writes them (runtime/checkpoint.ts) — an 8-byte
# little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
# {str: str}} padded with spaces to 8 bytes, then the raw little-endian tensor bytes, in sorted name
# order. Our own few lines instead of the `safetensors` package, which Debian does not ship; files are
# written to a temporary name, fsynced and renamed, so a crash leaves the previous checkpoint whole.
import json
import os
import struct
import sys

import torch

TO_TORCH = {"F32": torch.float32, "F16": torch.float16, "I32": torch.int32, "I64": torch.int64, "BOOL": torch.bool}
FROM_TORCH = {v: k for k, v in TO_TORCH.items()}

if sys.byteorder != "little":
    raise SystemExit("safetensors_io: this machine is big-endian; the format is little-endian")


def load(path):
    """(tensors by name, metadata) of a safetensors file; tensors are CPU copies."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path} is not a safetensors file (truncated)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: its header claims {n} bytes but the file is shorter (truncated?)")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    start = 8 + n
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, e in header.items():
        dtype = TO_TORCH.get(e["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {e['dtype']}")
        a, b = e["data_offsets"]
        raw = bytearray(data[start + a:start + b])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, metadata


def encode(tensors, metadata):
    """The bytes of a safetensors file: keys sorted, header padded to 8 bytes (as mira writes it)."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(metadata[k]) for k in sorted(metadata)}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        if t.dtype not in FROM_TORCH:
            raise ValueError(f"tensor '{name}' has dtype {t.dtype}, which mira does not store")
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": FROM_TORCH[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    while (8 + len(text.encode("utf-8"))) % 8:
        text += " "
    head = text.encode("utf-8")
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def save(path, tensors, metadata):
    """Writes atomically: temporary file in the same directory, fsync, rename, fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(encode(tensors, metadata))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
