#!/usr/bin/python3
"""Generate the small synthetic data set that `make demo` uses (committed in
data/demo/, so the demo needs no numpy). Run again to regenerate it exactly:

    /usr/bin/python3 scripts/make-demo-data.py data/demo

What it stands for: a 10-class image classifier whose penultimate layer has
64 features. v1's training set; a new training set of the same classes whose
images are noisier (a distribution shift); the weights of v1 and of v2
retrained from v1; a few "image" files per data set so that datasets have
something to fingerprint. Everything is drawn from fixed seeds.
"""
import json
import os
import struct
import sys

import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "data/demo"
os.makedirs(out, exist_ok=True)
K, D = 10, 64
centres = np.random.default_rng(1).standard_normal((K, D)) * 1.5


def embeddings(seed, n, noise, drift):
    g = np.random.default_rng(seed)
    y = g.integers(0, K, n)
    x = centres[y] + drift + g.standard_normal((n, D)) * noise
    return np.maximum(x, 0).astype(np.float32), y.astype(np.int64)  # ReLU features


x1, y1 = embeddings(10, 1500, 1.0, 0.0)
x2, y2 = embeddings(20, 1500, 1.6, np.random.default_rng(3).standard_normal(D) * 0.4)
np.save(f"{out}/emb-v1.npy", x1)
np.save(f"{out}/labels-v1.npy", y1)
np.save(f"{out}/emb-new.npy", x2)
np.save(f"{out}/labels-new.npy", y2)


def safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


g = np.random.default_rng(5)
w1 = {"conv1.weight": g.standard_normal((16, 3, 3, 3)) * 0.2, "conv1.bias": np.zeros(16),
      "fc.weight": g.standard_normal((K, D)) * 0.1, "fc.bias": np.zeros(K)}
safetensors(f"{out}/model-v1.safetensors", w1)
g2 = np.random.default_rng(6)
w2 = {k: v + g2.standard_normal(v.shape) * (0.02 if k.startswith("conv") else 0.05) for k, v in w1.items()}
safetensors(f"{out}/model-v2.safetensors", w2)

for name, seed in (("images-v1", 30), ("images-new", 40)):
    os.makedirs(f"{out}/{name}", exist_ok=True)
    g = np.random.default_rng(seed)
    for i in range(8):
        with open(f"{out}/{name}/img{i:03d}.raw", "wb") as f:
            f.write(g.integers(0, 256, 1024, dtype=np.uint8).tobytes())

# What training v1 from scratch cost (as a cost file from an earlier run).
with open(f"{out}/cost-v1.json", "w") as f:
    json.dump({"epochs": 40, "energy_kwh": 3.2, "duration_s": 14400, "hardware": "demo-gpu",
               "method": "measured"}, f, indent=1)
    f.write("\n")
