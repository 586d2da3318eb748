#!/bin/sh
# resque.dask against one process (issue 18 item 6): RESQUE_task of 1M x 256
# float32 rows in 8 .npy shards on a LocalCluster of 2 single-threaded
# workers (resque.dask.task: `resque shard step` per shard and iteration)
# against single-process `resque measure task` (OpenBLAS's threads: the
# same two cores) on the concatenated file, both from the page cache; the
# wall-time ratio (goal: under 1.5x). Then the driver's memory (peak RSS
# of the Python driver, a client only: the cluster runs in another
# process; and of the CLI commands it runs, `shard init|update|result`)
# at N and N/8 rows: O(K·D), the same whatever N. Needs python3-dask and
# python3-distributed. Prints; never fails on speed.
#   BENCH_DASK_ROWS (1000000), BENCH_DASK_DIM (256), BENCH_DASK_K (16)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
dir=$BENCH_DIR/dask
rows=${BENCH_DASK_ROWS:-1000000}
dim=${BENCH_DASK_DIM:-256}
k=${BENCH_DASK_K:-16}
if ! "$PY" -c "import dask.array, distributed, numpy" 2>/dev/null; then
	echo "skipped: needs python3-dask and python3-distributed"
	exit 0
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$dir" && mkdir -p "$dir" || exit 1
export PYTHONPATH="$root/python" RESQUE_BIN="$RESQUE_BUILD/resque" TMPDIR="$dir" \
	PYTHONDONTWRITEBYTECODE=1
cd "$dir" || exit 1

# shards of N rows and of N/8 rows, and the concatenation of the first
"$PY" - "$rows" "$dim" "$k" <<'PY' || exit 1
import sys
import numpy as np
rows, dim, k = (int(a) for a in sys.argv[1:])
for name, n in (("big", rows), ("small", rows // 8)):
    rng = np.random.default_rng(3)
    # classes that overlap: Lloyd iterates (about 20 times at 100,000 rows)
    centres = (0.2 * rng.normal(size=(k, dim))).astype(np.float32)
    bounds = np.linspace(0, n, 9).astype(int)
    whole = None
    if name == "big":
        whole = np.lib.format.open_memmap("all.npy", mode="w+", dtype="<f4", shape=(n, dim))
        labels = np.empty(n, dtype=np.int64)
    for i in range(8):
        a, b = bounds[i], bounds[i + 1]
        y = rng.integers(0, k, size=b - a)
        x = centres[y] + rng.normal(scale=1.5, size=(b - a, dim)).astype(np.float32)
        np.save(f"{name}-emb{i}.npy", x)
        np.save(f"{name}-lab{i}.npy", y)
        if whole is not None:
            whole[a:b] = x
            labels[a:b] = y
    if whole is not None:
        whole.flush()
        np.save("all.labels.npy", labels)
PY
cat ./*.npy >/dev/null # into the page cache

# the cluster, in its own process: the driver below is a client only
# (a file, not stdin: the spawned workers import the main module again)
cat >cluster.py <<'PY'
import sys, time
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        with open("address.tmp", "w") as f:
            f.write(c.scheduler_address)
        import os
        os.rename("address.tmp", "address")
        while not os.path.exists("stop"):
            time.sleep(0.2)
PY
"$PY" cluster.py >cluster.log 2>&1 &
cluster=$!
i=0
while [ ! -e address ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -e address ] || { echo "the LocalCluster did not start"; cat cluster.log; kill "$cluster"; exit 1; }

# the CLI as the driver runs it: each command's own peak RSS (wait4) logged
cat >rss-resque <<WRAP
#!$PY
import os, sys
pid = os.posix_spawn("$RESQUE_BUILD/resque", ["resque", *sys.argv[1:]], os.environ)
_, status, ru = os.wait4(pid, 0)
with open("$dir/rss.log", "a") as f:
    f.write(" ".join(sys.argv[1:3]) + " %d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
WRAP
chmod +x rss-resque

"$PY" - "$(cat address)" "$rows" "$dim" "$k" <<'PY'
import json, os, resource, subprocess, sys, time
import resque.dask as rd
from distributed import Client, get_task_stream
address, rows, dim, k = sys.argv[1], *(int(a) for a in sys.argv[2:])

def peak():  # MiB: this process, the largest CLI command it ran
    s = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        c = max(int(l.split()[-1]) for l in open("rss.log"))
    except (OSError, ValueError):
        c = 0
    return s / 1024, c / 1024

os.environ["RESQUE_BIN"] = os.path.abspath("rss-resque")  # the driver's commands only

with Client(address, timeout=60) as c:
    c.wait_for_workers(2, timeout=120)
    before = peak()
    for name in ("small", "big"):
        emb = [f"{name}-emb{i}.npy" for i in range(8)]
        lab = [f"{name}-lab{i}.npy" for i in range(8)]
        with get_task_stream(c) as stream:
            t = time.perf_counter()
            got = rd.task(emb, lab, client=c)
            w = time.perf_counter() - t
        mem = peak()
        if name == "small":
            small = (got, w, mem)
big, t_dask, mem_big = got, w, mem
t = time.perf_counter()
# through the same wrapper (its own RSS; the wrapper adds ~30 ms to the time)
one = subprocess.run([os.environ["RESQUE_BIN"], "measure", "task", "-e", "all.npy",
                      "-l", "all.labels.npy", "--json"], capture_output=True, text=True, check=True)
t_one = time.perf_counter() - t
one = json.loads(one.stdout)
one_rss = int(open("rss.log").read().split()[-1]) / 1024  # its own peak RSS (wait4)
same = all(big[x] == one[x] for x in ("value", "ari", "iterations", "n"))
print(f"RESQUE_task of {rows} x {dim} float32, k = {k}, {one['iterations']} iterations"
      f" (results {'equal' if same else 'DIFFERENT'})")
print(f"{'':44} {'seconds':>8} {'per iter':>9}")
print(f"{'resque measure task, one process':44} {t_one:8.2f} {t_one / one['iterations']:9.3f}")
print(f"{'resque.dask.task, 8 shards, 2 workers':44} {t_dask:8.2f} "
      f"{t_dask / big['iterations']:9.3f}")
r = t_dask / t_one
print(f"ratio cluster / one process: {r:.2f}x (goal < 1.5x: {'met' if r < 1.5 else 'NOT met'})")
busy = {}
for rec in stream.data:  # the big run's tasks: where the workers' time went
    fn = rec["key"].split("-")[0]
    for ss in rec["startstops"]:
        if ss["action"] == "compute":
            b = busy.setdefault(fn, [0.0, 0])
            b[0] += ss["stop"] - ss["start"]
            b[1] += 1
print("workers' busy time in the cluster run (2 workers):")
for fn, label in (("_stats_map", "shard stats (with BLAKE2b of both files)"),
                  ("_step_map", "shard step (reads the shard again)"),
                  ("_partial_merge", "shard merge")):
    b = busy.get(fn, [0.0, 0])
    print(f"  {label:42} {b[0]:7.2f} s in {b[1]:3d} calls, {1000 * b[0] / max(b[1], 1):6.1f} ms each")
print(f"driver's peak RSS (MiB)          {'python':>8} {'its CLI':>8}")
print(f"  connected, before any task     {before[0]:8.1f} {before[1]:8.1f}")
print(f"  after {rows // 8:>8} rows            {small[2][0]:8.1f} {small[2][1]:8.1f}")
print(f"  after {rows:>8} rows            {mem_big[0]:8.1f} {mem_big[1]:8.1f}")
print(f"  (resque measure task, one process: {one_rss:.0f} MiB; "
      f"the rows: {rows * dim * 4 / 2**20:.0f} MiB;")
print(f"   one partial: K x D = {k} x {dim} float64 sums = {k * dim * 8 / 1024:.0f} KiB)")
PY
touch stop
wait "$cluster"
cd "$BENCH_DIR" && rm -rf "$dir"
