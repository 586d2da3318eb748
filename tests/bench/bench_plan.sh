#!/bin/sh
# The latency of `resque plan` with a long history (issue 14): a lineage of
# 1,000 past dist updates in 10 shift families (rq-bulk, RQ_BULK_FAMILIES),
# then a plan of one more update: wall and CPU time of the whole command —
# ledger, history, the hierarchical sampler for three outcomes, STEP — and
# of `plan --backtest` over the same history for scale; and the forecaster
# alone (history in memory: rq-stats validate, 1,000 points in 10 families,
# three outcomes' worth of sampling is 3x one) apart from reading the
# ledger, which is O(entries) today (issue 16). Goal: the plan under 0.2 s.
# Prints seconds; never fails on speed.
#   BENCH_PLAN_UPDATES  past updates (default 1000)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
updates=${BENCH_PLAN_UPDATES:-1000}
dir=$BENCH_DIR/plan
rm -rf "$dir" && mkdir -p "$dir"
export HOME="$dir/home" RESQUE_HOME="$dir/home/.config/resque"
unset RESQUE_DIR RESQUE_EVENTS
cd "$dir" || exit 1
# rq-bulk writes 7 entries per cycle, one of them a dist update with its actual
RQ_BULK_FAMILIES=10 rq-bulk "$dir/p/.resque" $((updates * 7 + 1)) >/dev/null || { echo "rq-bulk failed"; exit 1; }
cd p || exit 1
"$PY" - <<'PY'
import numpy as np
rng = np.random.default_rng(1)
lab = np.repeat(np.arange(4), 250).astype(np.int64)
for name, shift in (("base", 0.0), ("new", 0.4)):
    x = rng.normal(size=(1000, 16)).astype(np.float32) + lab[:, None] + shift
    np.save(name + "-emb.npy", x)
    np.save(name + "-lab.npy", lab)
PY
last=$(resque log --json -n 200 2>/dev/null | "$PY" -c 'import json,sys; d=json.load(sys.stdin); e=d if isinstance(d,list) else d.get("entries",[]); print(next(x["id"] for x in e if x["type"]=="version"))')
resque commit --weights base-emb.npy --name bench-base --parent "$last" --embeddings base-emb.npy --labels base-lab.npy >/dev/null 2>&1 ||
	{ echo "commit failed"; exit 1; }
"$PY" - "$updates" <<'PY'
import os, resource, subprocess, sys, time
updates = int(sys.argv[1])

def timed(cmd, reps=5):
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(reps):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        w = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
        best_wall = min(best_wall, w)
        best_cpu = min(best_cpu, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
    return best_wall, best_cpu, p.stdout

plan = ["resque", "plan", "--from", "bench-base", "--embeddings", "new-emb.npy", "--labels", "new-lab.npy",
        "--shift-family", "fam3", "--intensity", "300", "--dry-run"]
w, c, out = timed(plan)
line = next((l.strip() for l in out.splitlines() if "calibration:" in l), "?")
print("plan with %d past updates in 10 families: wall %.3f s, CPU %.3f s (goal < 0.2 s: %s)"
      % (updates, w, c, "met" if w < 0.2 else "NOT met"))
print("  " + line)
w2, c2, _ = timed(plan + ["--json"], reps=1)
n = 20
t = time.perf_counter()
subprocess.run(["rq-stats", "validate", str(n), "10", str(updates // 10), "0.3", "0.3", "0", "1", "0"],
               stdout=subprocess.DEVNULL, check=True)
one = (time.perf_counter() - t) / n
print("the forecaster alone, %d points in 10 families: %.1f ms per outcome (sampler, 20,000 draws)"
      % (updates // 10 * 10, 1000 * one))
lg, _, _ = timed(["resque", "log", "-n", "1"], reps=3)
print("reading the ledger: 'resque log -n 1' on the same ledger takes %.3f s (O(entries) until issue 16)" % lg)
bt = ["resque", "plan", "--backtest", "--from", "bench-base"]
w3, c3, _ = timed(bt, reps=1)
print("plan --backtest replaying the %d updates: wall %.2f s (%.1f ms per forecast)" % (updates, w3, 1000 * w3 / updates))
PY
