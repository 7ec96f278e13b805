#!/usr/bin/env python3
"""safetensors interop fixture for DeepSharp, written without the `safetensors` package.

    /usr/bin/python3 scripts/gen_safetensors_fixture.py
        writes tests/fixtures/torch_linear.safetensors and tests/fixtures/torch_linear.json
        (a seeded nn.Linear(4, 3) state dict plus int64, bool, float64, empty and narrow-dtype
        tensors, in the layout of the reference writer)

    /usr/bin/python3 scripts/gen_safetensors_fixture.py --verify FILE [--expect JSON]
        parses FILE with every check of the spec (header size, JSON object, dtypes, offsets that
        tile the data section exactly) and prints its tensors; with --expect, also compares names,
        dtypes (as DeepSharp loads them), shapes, values and metadata with a JSON written by this
        script. Exits 1 on any problem. Used to check files written by DeepSharp.

The format (https://github.com/huggingface/safetensors): u64 little-endian header length N,
N bytes of UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {str: str}},
padded with spaces to a multiple of 8, then the little-endian row-major data.
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
MAX_HEADER = 100_000_000

# file dtype -> (numpy dtype, itemsize, dtype DeepSharp loads it as)
DTYPES = {
    "F64": (np.dtype("<f8"), 8, "float64"),
    "F32": (np.dtype("<f4"), 4, "float32"),
    "F16": (np.dtype("<f2"), 2, "float32"),
    "BF16": (np.dtype("<u2"), 2, "float32"),  # numpy has no bfloat16: keep the raw bits
    "I64": (np.dtype("<i8"), 8, "int64"),
    "U64": (np.dtype("<u8"), 8, "int64"),
    "I32": (np.dtype("<i4"), 4, "int64"),
    "U32": (np.dtype("<u4"), 4, "int64"),
    "I16": (np.dtype("<i2"), 2, "int64"),
    "U16": (np.dtype("<u2"), 2, "int64"),
    "I8": (np.dtype("i1"), 1, "int64"),
    "U8": (np.dtype("u1"), 1, "int64"),
    "BOOL": (np.dtype("u1"), 1, "bool"),
}
TORCH_TO_ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
               torch.uint8: "U8", torch.bool: "BOOL"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if t.dtype == torch.bool:
        return t.numpy().astype(np.uint8).tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def serialize(tensors, metadata=None):
    """Reference layout: biggest dtypes first, then by name; header padded with spaces to 8 bytes."""
    order = sorted(tensors, key=lambda n: (-DTYPES[TORCH_TO_ST[tensors[n].dtype]][1], n))
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in order:
        t = tensors[name]
        data = tensor_bytes(t)
        header[name] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


def parse(blob, where):
    """Strict parse; returns (ordered list of (name, file dtype, shape, numpy array as loaded), metadata)."""
    def fail(msg):
        raise ValueError(f"{where}: {msg}")
    if len(blob) < 8:
        fail(f"{len(blob)} bytes is too short for the header length")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER:
        fail(f"header length {n} exceeds {MAX_HEADER}")
    if n > len(blob) - 8:
        fail(f"header length {n} exceeds the file")
    raw = blob[8:8 + n]
    if not raw.startswith(b"{"):
        fail("header does not start with '{'")

    def no_dupes(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            fail(f"duplicate keys {keys}")
        return dict(pairs)
    header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_dupes)
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail("__metadata__ must map strings to strings")
    data = blob[8 + n:]
    entries = []
    for name, info in header.items():
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"{name}: fields {sorted(info)}")
        if info["dtype"] not in DTYPES:
            fail(f"{name}: unknown dtype {info['dtype']}")
        shape, (b, e) = info["shape"], info["data_offsets"]
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            fail(f"{name}: bad shape {shape}")
        size = DTYPES[info["dtype"]][1] * int(np.prod(shape, dtype=object))
        if e - b != size:
            fail(f"{name}: offsets [{b}, {e}] hold {e - b} bytes, expected {size}")
        entries.append((b, e, name, info))
    entries.sort(key=lambda x: (x[0], x[1]))
    pos = 0
    for b, e, name, _ in entries:
        if b != pos:
            fail(f"{name}: begins at {b}, expected {pos} (gap or overlap)")
        pos = e
    if pos != len(data):
        fail(f"tensors cover {pos} bytes of a {len(data)}-byte data section")
    out = []
    for b, e, name, info in entries:
        npdt = DTYPES[info["dtype"]][0]
        arr = np.frombuffer(data[b:e], dtype=npdt).reshape(info["shape"])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F16":
            arr = arr.astype(np.float32)
        elif info["dtype"] == "BOOL":
            arr = arr != 0
        out.append((name, info["dtype"], list(info["shape"]), arr))
    return out, metadata


def describe(entries):
    """JSON-ready expected values: what DeepSharp should see after loading."""
    result = {}
    for name, st_dtype, shape, arr in entries:
        loaded = DTYPES[st_dtype][2]
        flat = arr.reshape(-1)
        if loaded == "bool":
            values = [bool(v) for v in flat]
        elif loaded == "int64":
            values = [int(v) for v in flat]
        else:
            values = [float(v) for v in flat]  # float32 values are exact in a double
        result[name] = {"file_dtype": st_dtype, "dtype": loaded, "shape": shape, "data": values}
    return result


def build_tensors():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 3)
    tensors = dict(lin.state_dict())  # weight [3, 4], bias [3], float32
    tensors["step"] = torch.tensor([[0, -5], [2**40, 2**62 + 7]], dtype=torch.int64)
    tensors["mask"] = torch.tensor([True, False, False, True, True])
    tensors["scale"] = torch.tensor(0.1, dtype=torch.float64)  # rank 0
    tensors["empty"] = torch.zeros(0, 3)  # size 0
    tensors["half"] = torch.tensor([1.5, -0.333, 65504.0, 6e-8], dtype=torch.float16)
    tensors["bhalf"] = torch.tensor([1.5, -0.333, 3e38], dtype=torch.bfloat16)
    tensors["int32"] = torch.tensor([-2**31, 7, 2**31 - 1], dtype=torch.int32)
    tensors["int8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    tensors["uint8"] = torch.tensor([[0, 255], [1, 128]], dtype=torch.uint8)
    return tensors


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def generate():
    tensors = build_tensors()
    metadata = {"format": "pt", "source": "scripts/gen_safetensors_fixture.py"}
    blob = serialize(tensors, metadata)
    entries, meta = parse(blob, "generated")  # validate our own output before replacing anything
    expected = {"generator": "scripts/gen_safetensors_fixture.py", "torch_version": torch.__version__,
                "metadata": meta, "order": [e[0] for e in entries], "tensors": describe(entries)}
    # Cross-check against torch itself, not only against our own parser.
    for name, _, _, arr in entries:
        t = tensors[name]
        ref = t.float().numpy() if t.dtype in (torch.float16, torch.bfloat16) else t.numpy()
        assert np.array_equal(np.asarray(arr), ref), name
    os.makedirs(FIXTURES, exist_ok=True)
    write_atomic(os.path.join(FIXTURES, "torch_linear.safetensors"), blob)
    write_atomic(os.path.join(FIXTURES, "torch_linear.json"), (json.dumps(expected, indent=1) + "\n").encode())
    print(f"wrote {len(blob)} bytes, {len(entries)} tensors to tests/fixtures/torch_linear.safetensors (+ .json)")


def verify(path, expect_path):
    with open(path, "rb") as f:
        blob = f.read()
    entries, meta = parse(blob, path)
    for name, st_dtype, shape, arr in entries:
        t = torch.from_numpy(np.array(arr))
        print(f"  {name}: {st_dtype} {shape} {t.flatten()[:6].tolist()}{' ...' if t.numel() > 6 else ''}")
    print(f"  metadata: {meta}")
    if expect_path:
        with open(expect_path) as f:
            expected = json.load(f)
        got = describe(entries)
        problems = []
        if set(got) != set(expected["tensors"]):
            problems.append(f"names {sorted(got)} != {sorted(expected['tensors'])}")
        for name, want in expected["tensors"].items():
            have = got.get(name)
            if have is None:
                continue
            for key in ("dtype", "shape", "data"):
                if have[key] != want[key]:
                    problems.append(f"{name}.{key}: {have[key]} != {want[key]}")
        for k, v in expected.get("metadata", {}).items():
            if meta.get(k) != v:
                problems.append(f"metadata[{k}]: {meta.get(k)!r} != {v!r}")
        if problems:
            print("MISMATCH:\n  " + "\n  ".join(problems))
            sys.exit(1)
        print(f"OK: {path} matches {expect_path}")
    else:
        print(f"OK: {path} is a valid safetensors file ({len(entries)} tensors)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--verify", metavar="FILE")
    ap.add_argument("--expect", metavar="JSON")
    args = ap.parse_args()
    if args.verify:
        try:
            verify(args.verify, args.expect)
        except (ValueError, UnicodeDecodeError, json.JSONDecodeError) as e:
            print(f"INVALID: {e}")
            sys.exit(1)
    else:
        generate()


if __name__ == "__main__":
    main()
