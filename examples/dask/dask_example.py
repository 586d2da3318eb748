#!/usr/bin/python3
"""The RESQUE measures of sharded embeddings on a Dask cluster (issue 18).

Generates a data set's embeddings before and after an update as shards of
uneven sizes (one .npy of embeddings and one of labels per shard), then
with resque.dask on a LocalCluster of 2 workers: the summary of the old
shards, RESQUE_dist between old and new, RESQUE_task of the new shards.
Each result is compared with the single-machine CLI (`resque summarize`,
`resque measure dist`, `resque measure task`) on the concatenated rows.

    make example-dask                       # BUILD's resque
    RESQUE_BIN=build/resque PYTHONPATH=python /usr/bin/python3 \
        examples/dask/dask_example.py [--dir DIR] [--rows N] [--shards S]

Writes its files under DIR (default: a temporary directory, removed).
Exit status 1 when a cluster result differs from the single machine's,
saying what differs and why: RESQUE_task over shards adds its float64 sums
in another order, which on long runs over overlapping classes can change
the iteration count and the value in the 6th digit, as `resque measure
task --threads 1` and `--threads 2` can differ from each other (printed
then). docs/SCALE.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import resque  # noqa: E402
import resque.dask as rd  # noqa: E402

K, D = 10, 64


def make_shards(d: str, rows: int, shards: int, seed: int = 1) -> dict[str, list[str]]:
    """Old and new embeddings of the same labelled rows, in uneven shards."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.0, size=(K, D)).astype(np.float32)
    drift = rng.normal(scale=0.3, size=(K, D)).astype(np.float32)  # the update moves classes
    w = rng.uniform(0.5, 1.5, size=shards)
    sizes = np.maximum(1, np.round(w / w.sum() * rows)).astype(int)
    out: dict[str, list[str]] = {"old": [], "new": [], "labels": []}
    for i, n in enumerate(sizes):
        y = rng.integers(0, K, size=n).astype(np.int64)
        noise = rng.normal(scale=4.0, size=(n, D)).astype(np.float32)
        for side, x in (("old", centres[y] + noise), ("new", centres[y] + drift[y] + noise)):
            p = os.path.join(d, f"{side}-{i:03d}.npy")
            np.save(p, x.astype(np.float32))
            out[side].append(p)
        p = os.path.join(d, f"labels-{i:03d}.npy")
        np.save(p, y)
        out["labels"].append(p)
    return out


def concatenate(paths: list[str], out: str) -> str:
    np.save(out, np.concatenate([np.load(p) for p in paths]))
    return out


def cli_json(*args: str) -> dict:
    p = subprocess.run([resque.binary(), *args, "--json"], capture_output=True, text=True,
                       check=True)
    return json.loads(p.stdout)


def explain_task(differ: list[str], task: dict, one: dict, new: str, lab: str) -> None:
    """Say what differs between the cluster's RESQUE_task and the single
    machine's, and why it can (docs/SCALE.md)."""
    print("RESQUE_task differs from the single machine's: " +
          ", ".join(f"{k} {task[k]!r} (cluster) vs {one[k]!r} (one machine)" for k in differ),
          file=sys.stderr)
    threads = {t: cli_json("measure", "task", "-e", new, "-l", lab, "--threads", str(t))
               for t in (1, 2)}
    print("The shards add the float64 sums of each Lloyd step in another order than one\n"
          "process does; over many iterations on overlapping classes that can change the\n"
          "iteration count and the value in the 6th digit, as the thread count of one\n"
          "machine can (docs/SCALE.md, docs/METHOD.md \"Shards\"): here `resque measure task`\n" +
          "".join(f"  --threads {t}: {r['iterations']} iterations, value {r['value']!r}\n"
                  for t, r in threads.items()), end="", file=sys.stderr)


def run(d: str, rows: int, shards: int) -> int:
    s = make_shards(d, rows, shards)
    print(f"{len(s['old'])} shards, {rows} rows of {D} float32, {K} classes in {d}")
    ok = True
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        t = time.perf_counter()
        summ = rd.summarize(s["old"], s["labels"], out=os.path.join(d, "old.rqs"), client=client)
        print(f"summarize: {summ['rows']} rows, {summ['classes']} classes, "
              f"{summ['shards']['count']} shards {summ['shards']['fingerprint'][:19]} "
              f"({time.perf_counter() - t:.2f} s)")
        t = time.perf_counter()
        dist = rd.dist(summ["path"], (s["new"], s["labels"]), client=client)
        t_dist = time.perf_counter() - t
        t = time.perf_counter()
        task = rd.task(s["new"], s["labels"], client=client, out=os.path.join(d, "task.json"))
        t_task = time.perf_counter() - t
    old = concatenate(s["old"], os.path.join(d, "old-all.npy"))
    new = concatenate(s["new"], os.path.join(d, "new-all.npy"))
    lab = concatenate(s["labels"], os.path.join(d, "labels-all.npy"))
    one_dist = cli_json("measure", "dist", "--old", f"{old}:{lab}", "--new", f"{new}:{lab}")
    one_task = cli_json("measure", "task", "-e", new, "-l", lab)
    print(f"{'':14} {'cluster':>14} {'one machine':>14}")
    print(f"{'RESQUE_dist':14} {dist['value']:14.12f} {one_dist['value']:14.12f}  ({t_dist:.2f} s)")
    print(f"{'RESQUE_task':14} {task['value']:14.12f} {one_task['value']:14.12f}  ({t_task:.2f} s)")
    print(f"{'ARI':14} {task['ari']:14.12f} {one_task['ari']:14.12f}")
    print(f"{'iterations':14} {task['iterations']:14d} {one_task['iterations']:14d}")
    if abs(dist["value"] - one_dist["value"]) > 1e-12:
        print("RESQUE_dist differs from the single machine's", file=sys.stderr)
        ok = False
    differ = [k for k in ("value", "ari", "iterations", "k", "n") if task[k] != one_task[k]]
    if differ:
        explain_task(differ, task, one_task, new, lab)
        ok = False
    print(f"task.json (for `resque plan --task-from`): {os.path.join(d, 'task.json')}")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", help="where to write the shards (default: a temporary directory)")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--shards", type=int, default=8)
    a = ap.parse_args()
    if a.dir:
        os.makedirs(a.dir, exist_ok=True)
        return run(os.path.abspath(a.dir), a.rows, a.shards)
    with tempfile.TemporaryDirectory(prefix="resque-dask-example-") as d:
        return run(d, a.rows, a.shards)


if __name__ == "__main__":  # the workers import this file: start nothing then
    sys.exit(main())
