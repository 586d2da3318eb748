#!/usr/bin/python3
"""A whole model life cycle with resque's Python companion, on data the
example draws itself: a small CNN learns to tell circles, squares and
triangles apart in 16x16 images; then three updates on shifted data — noisier
images, rotated shapes, and a new class (crosses) — are each planned
(`resque plan`: RESQUE index and forecast), trained under `resque.track`
(metered, epochs and accuracy reported), and committed with their weights and
embeddings written by the companion. At the end it prints each update's
forecast against its actual.

    python3 examples/shapes/shapes.py [--dir DIR] [--short]

Needs Debian's python3-torch and python3-numpy, and the resque CLI (on PATH
or RESQUE_BIN). --short runs the base model and one update with fewer
images and epochs (the test suite's version). DIR (default: a fresh
temporary directory) holds the project and its `.resque` ledger.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import resque  # noqa: E402  (the companion, from the tree or installed)
import resque.torch as rqt  # noqa: E402

SIZE = 16
SHAPES = ("circle", "square", "triangle", "cross")


def draw(n, classes, rng, noise=0.1, rotate=0.0):
    """n images of the first `classes` shapes, each at a random place and
    size, rotated by up to `rotate` radians, with Gaussian pixel noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) + 0.5
    x = np.zeros((n, 1, SIZE, SIZE), np.float32)
    y = rng.integers(0, classes, n)
    for i in range(n):
        r = rng.uniform(3.0, 6.0)
        cx, cy = rng.uniform(r, SIZE - r, 2)
        a = rng.uniform(-rotate, rotate)
        u = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
        v = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
        if y[i] == 0:
            img = u * u + v * v <= r * r
        elif y[i] == 1:
            img = (np.abs(u) <= r * 0.8) & (np.abs(v) <= r * 0.8)
        elif y[i] == 2:
            img = (v <= r * 0.7) & (v >= -r * 0.9 + 1.6 * np.abs(u))
        else:
            img = ((np.abs(u) <= r * 0.3) | (np.abs(v) <= r * 0.3)) & (np.abs(u) <= r) & (np.abs(v) <= r)
        x[i, 0] = img + rng.normal(0, noise, (SIZE, SIZE))
    return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def batches(x, y, size, rng=None):
    order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
    for i in range(0, len(x), size):
        j = order[i:i + size]
        yield x[j], y[j]


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(model, data, val, target, budget, tracker, rng):
    """Train until validation accuracy reaches `target` or `budget` epochs;
    report each epoch to the tracker. Returns the epochs run."""
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, budget + 1):
        model.train()
        grad = 0.0
        for xb, yb in batches(*data, 64, rng):
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            grad += float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
            opt.step()
        acc = accuracy(model, *val)
        tracker.epoch(accuracy=acc, grad_norm=grad)
        if acc >= target:
            tracker.target_reached()
            return epoch
    tracker.target_missed()
    return budget


def embed(model, repo_dir, name, data):
    """The model's embeddings of `data` (its pooled features): NAME-emb.npy
    and NAME-emb.labels.npy."""
    out = os.path.join(repo_dir, name + "-emb")
    rqt.embeddings(model, "features", batches(*data, 128), out=out)
    return out + ".npy", out + ".labels.npy"


def save(model, repo_dir, name, data):
    """The model's weights (safetensors) and its embeddings of `data`."""
    w = os.path.join(repo_dir, name + ".safetensors")
    rqt.save_weights(model, w)
    return (w,) + embed(model, repo_dir, name, data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="project directory (default: a fresh temporary one)")
    ap.add_argument("--short", action="store_true", help="base model and one update, small")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, budget, target = (1500, 20, 0.9) if a.short else (3000, 40, 0.92)
    d = os.path.abspath(a.dir or tempfile.mkdtemp(prefix="resque-shapes-"))
    os.makedirs(d, exist_ok=True)
    repo = resque.Repo(d)
    repo.init()
    print(f"project: {d}")

    # The base model, trained from scratch and metered.
    train_set, val_set = draw(n, 3, rng), draw(n // 4, 3, rng)
    model = Net(3)
    with resque.track(name="base", repo=d) as t:
        e0 = train(model, train_set, val_set, target, budget, t, rng)
    base = t.actual
    w, emb, lab = save(model, d, "v1", train_set)
    repo.commit(w, "v1", embeddings=emb, labels=lab, actual=base["id"], message="trained from scratch")
    print(f"v1: {e0} epochs from scratch, {base['energy_kwh']:.3g} kWh ({base['method']})")

    updates = [("noise", dict(noise=0.25), 3, "dist"), ("rotation", dict(rotate=0.5), 3, "dist"),
               ("new-class", dict(), 4, "task")]
    rows, current = [], "v1"
    for k, (family, shift, classes, kind) in enumerate(updates[:1] if a.short else updates, start=2):
        new, new_val = draw(n, classes, rng, **shift), draw(n // 4, classes, rng, **shift)
        # the new data seen by the current model: what RESQUE compares
        emb, lab = embed(model, d, f"v{k}-new", new)
        plan = repo.plan(from_=current, embeddings=emb, labels=lab, kind=kind, shift_family=family)["plans"][0]
        if classes > model.head.out_features:  # a new class: a wider head, the rest kept
            head = nn.Linear(16, classes)
            with torch.no_grad():
                head.weight[:model.head.out_features] = model.head.weight
                head.bias[:model.head.out_features] = model.head.bias
            model.head = head
        with resque.track(plan=plan["id"], name=f"v{k}", repo=d) as t:
            epochs = train(model, new, new_val, target, budget, t, rng)
        w, emb, lab = save(model, d, f"v{k}", new)
        repo.commit(w, f"v{k}", parent=current, embeddings=emb, labels=lab, actual=t.actual["id"],
                    message=f"retrained after a {family} shift")
        fc = plan["forecast"]["epochs"]
        rows.append((f"v{k}", family, plan["index"], fc["p50"], fc["p10"], fc["p90"], epochs,
                     t.actual.get("energy_kwh")))
        current = f"v{k}"

    print(f"\n{'update':8} {'shift':10} {'RESQUE':>7} {'forecast epochs [80 %]':>26} {'actual':>7} {'kWh':>9}")
    for v, fam, idx, p50, p10, p90, ep, kwh in rows:
        print(f"{v:8} {fam:10} {idx:7.4f} {p50:9.1f} [{p10:6.1f}, {p90:6.1f}] {ep:7d} {kwh:9.3g}")
    print(f"\nthe ledger: resque -C {d} log --graph; the report: resque -C {d} report")
    return 0


if __name__ == "__main__":
    sys.exit(main())
