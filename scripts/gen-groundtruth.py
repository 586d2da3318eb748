#!/usr/bin/python3
"""Generate a real-retraining ground truth for resque's forecaster (issue 14,
item 5): a small MLP trained with torch on scikit-learn's bundled tables, then
retrained from its weights after many distribution shifts; one CSV row per
retraining, in time order. docs/DATA.md describes the data and the design.

    /usr/bin/python3 scripts/gen-groundtruth.py                  full truth
    /usr/bin/python3 scripts/gen-groundtruth.py --short          the short one
    /usr/bin/python3 scripts/gen-groundtruth.py --tiny --out F   a test's

Needs Debian's python3-torch, python3-sklearn, python3-numpy, python3-scipy
and the resque binary (--resque, else $RESQUE_BUILD/resque, else PATH), which
computes each update's RESQUE index. Everything but duration_s is
deterministic: one thread, fixed seeds.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.linalg
import scipy.ndimage
import torch
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split

COLUMNS = ("order,dataset,family,level,seed,index,epochs,reached,budget,e0,"
           "param_change,grad_norm,duration_s,target,val_acc,index_task")

# Per data set: the loader, the validation accuracy a training must reach
# (base and retrainings alike), the learning rate and batch size of plain SGD,
# and factors on some families' levels (a two-class table moves both of its
# classes in classcond, and shrugs off noise that would blind digits).
DATASETS = {
    "digits": dict(load=skd.load_digits, target=0.94, lr=0.01, batch=32, level_scale={}),
    "breast_cancer": dict(load=skd.load_breast_cancer, target=0.93, lr=0.005, batch=32,
                          level_scale={"noise": 1.5, "classcond": 0.2}),
    "wine": dict(load=skd.load_wine, target=0.95, lr=0.01, batch=16, level_scale={}),
}

# Shift families and their levels, weakest first (units in shift()).
LEVELS = {
    "noise": (0.1, 0.2, 0.3, 0.45, 0.6),
    "scale": (0.25, 0.5, 0.75, 1.0, 1.25),
    "mask": (0.05, 0.1, 0.2, 0.3, 0.45),
    "rotate": (0.2, 0.4, 0.6, 0.8, 1.0),
    "offset": (0.25, 0.5, 1.0, 1.5, 2.0),
    "classcond": (0.1, 0.2, 0.3, 0.4, 0.5),
    "blur": (0.2, 0.3, 0.45, 0.6, 0.75),
    "translate": (0.05, 0.1, 0.2, 0.3, 0.4),
}
IMAGE_FAMILIES = ("blur", "translate")  # need 8x8 images: digits only

PRESETS = {  # datasets, families (None: all that apply), level indexes, seeds, budget
    "full": (("digits", "breast_cancer"), None, (0, 1, 2, 3, 4), (1, 2, 3), 60),
    "short": (("digits",), None, (0, 2, 4), (1, 2), 60),
    "tiny": (("digits",), ("noise", "offset", "rotate"), (0, 4), (1,), 20),
}


def load(name):
    """The train/validation split, raw (the images of digits) and standardised
    with the training part's statistics."""
    x, y = DATASETS[name]["load"](return_X_y=True)
    xtr, xva, ytr, yva = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    mu, sd = xtr.mean(0), xtr.std(0)
    sd[sd == 0] = 1.0
    return dict(raw=(xtr, xva), y=(ytr, yva), mu=mu, sd=sd,
                x=((xtr - mu) / sd, (xva - mu) / sd))


def shift_images(family, level, raw, rng):
    """Blur (Gaussian, sigma = level pixels, jittered +-25 % per image) or
    translate (by level pixels in a random direction per image, bilinear) the
    8x8 images."""
    out = np.empty_like(raw)
    for i, row in enumerate(raw):
        img = row.reshape(8, 8)
        if family == "blur":
            img = scipy.ndimage.gaussian_filter(img, level * rng.uniform(0.75, 1.25), mode="constant")
        else:
            phi = rng.uniform(0, 2 * np.pi)
            img = scipy.ndimage.shift(img, (level * np.sin(phi), level * np.cos(phi)), order=1, cval=0.0)
        out[i] = img.reshape(-1)
    return out


def shift_params(family, level, data, rng):
    """The random parameters of a shift, shared by its train and validation
    parts (a shift is one change of the world, seen in both)."""
    d = data["x"][0].shape[1]
    if family == "scale":  # per-feature gain exp(level * z)
        return np.exp(level * rng.standard_normal(d))
    if family == "mask":  # a fixed share of the columns lost (set to the mean)
        return rng.permutation(d)[:max(1, int(round(level * d)))]
    if family == "rotate":  # exp(level * A), A skew: identity -> random rotation
        g = rng.standard_normal((d, d))
        return scipy.linalg.expm(level * np.pi / (2 * np.sqrt(d)) * (g - g.T) / np.sqrt(2))
    if family == "offset":  # every row moved by level * u, u ~ N(0, I)
        return level * rng.standard_normal(d)
    if family == "classcond":
        return class_moves(level, data["x"][0], data["y"][0], rng)
    return None


def class_moves(level, x, y, rng):
    """Class-conditional shift: half of the classes (both of two) each move
    level of the way towards another moved class's mean (a random cycle), so
    the classes the model knew come to look like each other."""
    k = int(y.max()) + 1
    moved = rng.permutation(k)[:max(2, k // 2)]
    mean = {c: x[y == c].mean(0) for c in range(k)}
    return {int(c): level * (mean[int(nxt)] - mean[int(c)])
            for c, nxt in zip(moved, np.roll(moved, 1))}


def shift(family, level, data, rng):
    """The shifted standardised (train, validation) features."""
    xs, ys = data["x"], data["y"]
    if family in IMAGE_FAMILIES:
        return tuple((shift_images(family, level, r, rng) - data["mu"]) / data["sd"] for r in data["raw"])
    p = shift_params(family, level, data, rng)
    out = []
    for x, y in zip(xs, ys):
        if family == "noise":
            x = x + level * rng.standard_normal(x.shape)
        elif family == "scale":
            x = x * p
        elif family == "mask":
            x = x.copy()
            x[:, p] = 0.0
        elif family == "rotate":
            x = x @ p
        elif family == "offset":
            x = x + p
        elif family == "classcond":
            x = x + np.array([p.get(int(c), np.zeros(x.shape[1])) for c in y])
        out.append(x)
    return tuple(out)


def mlp(d, k):
    """d -> 64 -> 32 -> k; the 32 ReLU units are the embeddings."""
    return torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(),
                               torch.nn.Linear(64, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, k))


def tensors(x, y):
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def train(model, cfg, xtr, ytr, xva, yva, budget, seed):
    """SGD epochs until the validation accuracy reaches cfg's target (checked
    after each epoch, so at least one epoch) or the budget is spent. Returns
    (epochs, reached, accuracy, grad_norm): grad_norm sums over epochs the mean
    over the epoch's batches of the global L2 norm of all gradients."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
    gen = torch.Generator().manual_seed(seed)
    grad_sum, acc = 0.0, 0.0
    for epoch in range(1, budget + 1):
        perm = torch.randperm(len(ytr), generator=gen)
        norms = []
        model.train()
        for i in range(0, len(ytr), cfg["batch"]):
            b = perm[i:i + cfg["batch"]]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xtr[b]), ytr[b]).backward()
            norms.append(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item())
            opt.step()
        grad_sum += float(np.mean(norms))
        model.eval()
        with torch.no_grad():
            acc = (model(xva).argmax(1) == yva).double().mean().item()
        if acc >= cfg["target"]:
            return epoch, True, acc, grad_sum
    return budget, False, acc, grad_sum


def param_change(model, base):
    """Mean over tensors of ||w - w0||_2 / sqrt(n) (docs/METHOD.md)."""
    now = model.state_dict()
    return float(np.mean([((now[n] - w0).double().norm() / np.sqrt(w0.numel())).item()
                          for n, w0 in base.items()]))


def embed(model, x):
    with torch.no_grad():
        return model[:4](torch.tensor(x, dtype=torch.float32)).numpy().astype(np.float32)


def resque(args, *cmd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([args.resque, "measure", *cmd, "--json"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("gen-groundtruth: resque measure %s failed: %s" % (cmd[0], out.stderr.strip()))
    return json.loads(out.stdout)["value"]


def indexes(args, tmp, name, model, data, xtr_new, order):
    """RESQUE_dist between the base model's embeddings of the original and of
    the shifted training data (original labels), and RESQUE_task of the
    shifted ones, both by resque itself. The files are in tmp, which is
    --keep-embeddings DIR when given: NAME-old.npy, NAME-labels.npy and one
    ORDER-NAME.npy per update, for replaying the history through resque."""
    old = os.path.join(tmp, name + "-old.npy")
    lab = os.path.join(tmp, name + "-labels.npy")
    if not os.path.exists(old):
        np.save(old, embed(model, data["x"][0]))
        np.save(lab, data["y"][0].astype(np.int64))
    new = os.path.join(tmp, "%04d-%s.npy" % (order, name) if args.keep_embeddings else "new.npy")
    np.save(new, embed(model, xtr_new))
    dist = resque(args, "dist", "--old", old + ":" + lab, "--new", new + ":" + lab)
    task = resque(args, "task", "--embeddings", new, "--labels", lab)
    return dist, task


def base_model(name, data, cfg):
    """The base version: trained from scratch (seed 0) to the target; E0."""
    (xtr, xva), (ytr, yva) = data["x"], data["y"]
    torch.manual_seed(0)
    model = mlp(xtr.shape[1], int(ytr.max()) + 1)
    e0, ok, acc, _ = train(model, cfg, *tensors(xtr, ytr), *tensors(xva, yva), 500, 0)
    if not ok:
        sys.exit("gen-groundtruth: %s: the base model never reached %.2f" % (name, cfg["target"]))
    print("base %s: E0 = %d epochs (validation accuracy %.3f)" % (name, e0, acc), file=sys.stderr)
    return model, e0


def retrain(args, tmp, run, bases, order):
    """One update: shift, measure the index, retrain from the base weights."""
    name, family, li, seed = run
    data, cfg = bases[name]["data"], DATASETS[name]
    level = LEVELS[family][li] * cfg["level_scale"].get(family, 1.0)
    # the shift's randomness and the fine-tuning order both follow the seed
    rng = np.random.default_rng([seed, li, sorted(LEVELS).index(family)])
    xtr, xva = shift(family, level, data, rng)
    dist, task = indexes(args, tmp, name, bases[name]["model"], data, xtr, order)
    torch.manual_seed(seed)
    model = mlp(xtr.shape[1], int(data["y"][0].max()) + 1)
    model.load_state_dict(bases[name]["model"].state_dict())
    base_w = {n: w.clone() for n, w in model.state_dict().items()}
    t0 = time.perf_counter()
    epochs, ok, acc, gsum = train(model, cfg, *tensors(xtr, data["y"][0]),
                                  *tensors(xva, data["y"][1]), args.budget, 1000 * seed + li)
    dur = time.perf_counter() - t0
    return dict(dataset=name, family=family, level=level, seed=seed, index=dist,
                epochs=epochs, reached="true" if ok else "false", budget=args.budget,
                e0=bases[name]["e0"], param_change=param_change(model, base_w),
                grad_norm=gsum, duration_s=dur, target=cfg["target"], val_acc=acc,
                index_task=task)


def schedule(names, families, levels, seeds, order_seed):
    """Every (dataset, family, level, seed), in a seeded random time order:
    families and levels interleave, as updates come in practice."""
    runs = [(n, f, li, s) for n in names for f in LEVELS
            if (families is None or f in families) and (f not in IMAGE_FAMILIES or n == "digits")
            for li in levels for s in seeds]
    perm = np.random.default_rng(order_seed).permutation(len(runs))
    return [runs[i] for i in perm]


def summary(rows):
    """Per dataset and family: n, Pearson and Spearman corr(index, epochs),
    epochs median [min, max], share missed."""
    out = ["dataset        family     n  r(idx,ep) rho   epochs med [min,max]  missed"]
    keys = sorted({(r["dataset"], r["family"]) for r in rows})
    for key in keys + [("all", "all")]:
        sel = [r for r in rows if key == ("all", "all") or (r["dataset"], r["family"]) == key]
        idx = np.array([r["index"] for r in sel])
        ep = np.array([r["epochs"] for r in sel], dtype=float)
        r = np.corrcoef(idx, ep)[0, 1] if ep.std() > 0 and idx.std() > 0 else float("nan")
        rho = (np.corrcoef(idx.argsort().argsort(), ep.argsort().argsort())[0, 1]
               if ep.std() > 0 else float("nan"))
        miss = np.mean([s["reached"] == "false" for s in sel])
        out.append("%-14s %-9s %3d  %6.2f  %6.2f   %5.1f [%2d,%2d]  %5.0f%%" % (
            key[0], key[1], len(sel), r, rho, np.median(ep), ep.min(), ep.max(), 100 * miss))
    return "\n".join(out)


def write_csv(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(COLUMNS + "\n")
        for i, r in enumerate(rows, 1):
            f.write("%d,%s,%s,%g,%d,%.6f,%d,%s,%d,%d,%.6g,%.6g,%.3f,%g,%.4f,%.6f\n" % (
                i, r["dataset"], r["family"], r["level"], r["seed"], r["index"], r["epochs"],
                r["reached"], r["budget"], r["e0"], r["param_change"], r["grad_norm"],
                r["duration_s"], r["target"], r["val_acc"], r["index_task"]))
    os.replace(tmp, path)


def find_resque(given):
    if given and not (os.path.isfile(given) and os.access(given, os.X_OK)):
        sys.exit("gen-groundtruth: --resque %s: not an executable file" % given)
    for cand in (given, os.path.join(os.environ.get("RESQUE_BUILD", ""), "resque"),
                 shutil.which("resque")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    sys.exit("gen-groundtruth: no resque binary (give --resque, or set RESQUE_BUILD)")


def options():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--short", action="store_true", help="digits only, 3 levels, 2 seeds")
    size.add_argument("--tiny", action="store_true", help="a test's: seconds, not minutes")
    p.add_argument("--out", help="CSV to write (default data/groundtruth/retrain[-short].csv)")
    p.add_argument("--seeds", type=int, help="seeds 1..N (default 3; short 2; tiny 1)")
    p.add_argument("--budget", type=int, help="epoch budget of a retraining (default 60; tiny 20)")
    p.add_argument("--datasets", help="comma-separated: digits,breast_cancer,wine")
    p.add_argument("--order-seed", type=int, default=14, help="seed of the time order (14)")
    p.add_argument("--resque", help="the resque binary")
    p.add_argument("--keep-embeddings", metavar="DIR",
                   help="keep the embeddings files (base's and each update's) in DIR")
    args = p.parse_args()
    preset = "tiny" if args.tiny else "short" if args.short else "full"
    names, fams, levels, seeds, budget = PRESETS[preset]
    args.names = tuple(args.datasets.split(",")) if args.datasets else names
    for n in args.names:
        if n not in DATASETS:
            p.error("no data set %r (digits, breast_cancer, wine)" % n)
    args.families, args.levels = fams, levels
    args.seed_list = tuple(range(1, args.seeds + 1)) if args.seeds is not None else seeds
    args.budget = args.budget if args.budget is not None else budget
    if args.budget < 1 or not args.seed_list:
        p.error("--budget and --seeds must be at least 1")
    args.out = args.out or {"full": "data/groundtruth/retrain.csv",
                            "short": "data/groundtruth/retrain-short.csv"}.get(preset)
    if not args.out:
        p.error("--tiny needs --out")
    args.resque = find_resque(args.resque)
    return args


def main():
    args = options()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    t_start = time.perf_counter()
    bases = {}
    for name in args.names:
        data = load(name)
        model, e0 = base_model(name, data, DATASETS[name])
        bases[name] = dict(data=data, model=model, e0=e0)
    runs = schedule(args.names, args.families, args.levels, args.seed_list, args.order_seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="resque-gt.") as tmp:
        if args.keep_embeddings:
            os.makedirs(args.keep_embeddings, exist_ok=True)
            tmp = args.keep_embeddings
        for i, run in enumerate(runs, 1):
            rows.append(retrain(args, tmp, run, bases, i))
            r = rows[-1]
            print("%3d/%d %s %s %g seed %d: index %.4f epochs %d%s" % (
                i, len(runs), r["dataset"], r["family"], r["level"], r["seed"], r["index"],
                r["epochs"], "" if r["reached"] == "true" else " (missed)"), file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_csv(args.out, rows)
    print(summary(rows), file=sys.stderr)
    print("wrote %s: %d updates in %.0f s" % (args.out, len(rows), time.perf_counter() - t_start),
          file=sys.stderr)


if __name__ == "__main__":
    main()
