"""Write a safetensors file byte by byte (the format: an 8-byte little-endian
header length, a JSON header, then the raw tensors), without the safetensors
package, so tests do not depend on it.

    make_safetensors.py OUT SEED [--drop NAME] [--add NAME] [--scale S]

writes a small model's weights (conv, bn, fc tensors of several ranks) drawn
from numpy's generator with SEED; --scale perturbs them by S * noise from a
second generator, --drop leaves a tensor out, --add adds an extra one.
"""
import json
import struct
import sys

import numpy as np


def write(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dtype = {np.float32: "F32", np.float64: "F64", np.float16: "F16"}[arr.dtype.type]
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def model(seed):
    g = np.random.default_rng(seed)
    return {
        "conv1.weight": g.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "bn1.bias": g.standard_normal(8).astype(np.float32),
        "fc.weight": g.standard_normal((10, 8)).astype(np.float32),
        "fc.bias": g.standard_normal(10).astype(np.float64),
        "head.scale": g.standard_normal(4).astype(np.float16),
    }


if __name__ == "__main__":
    out, seed = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]
    t = model(seed)
    if "--scale" in args:
        s = float(args[args.index("--scale") + 1])
        g2 = np.random.default_rng(seed + 1000)
        t = {k: (v.astype(np.float64) + s * g2.standard_normal(v.shape)).astype(v.dtype) for k, v in t.items()}
    if "--drop" in args:
        del t[args[args.index("--drop") + 1]]
    if "--add" in args:
        t[args[args.index("--add") + 1]] = np.ones((2, 2), np.float32)
    write(out, t)
