#!/bin/sh
# The ledger at scale (issue 16, item 7): ledgers of 10k, 100k and 1M
# entries built through the library (tests/helpers/rq-bulk: versions,
# plans with forecasts, actuals linked to them, imports and notes), and for
# each size: the library's append per entry (rq-append, one entry per
# process, as a command appends) and `resque note`, `verify` (warm: the
# memory of an earlier verify at hand) and cold (no memory: a fresh
# RESQUE_HOME, and the page cache dropped when this user may), `reindex`,
# `log -n 10`, `show latest`, `plan` with the lineage's history, `report`,
# and the disk per entry (the git objects, index.db, the memory), with
# `git log -n 10` and `git fsck` on the same repository side by side.
# Goals: show / log -n 10 / plan under 50 ms at 1M entries, verify >= 20,000
# entries/s, under 1.5 KB per entry on disk. Prints; never fails on speed.
# The ledgers are built once under $BENCH_DIR/scale and reused while
# BENCH_DIR is kept (building 1M entries takes about half an hour here).
#   BENCH_SCALE_SIZES  the sizes (default "10000 100000 1000000")
#   BENCH_SCALE_RUNS   runs of each warm measurement (default 5; the median)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
PY=${PY:-/usr/bin/python3}
sizes=${BENCH_SCALE_SIZES:-10000 100000 1000000}
runs=${BENCH_SCALE_RUNS:-5}
dir=$BENCH_DIR/scale
mkdir -p "$dir"
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_NOW RESQUE_EVENTS
"$PY" - <<'PY' >/dev/null 2>&1 || { echo "numpy is missing: no embeddings for plan"; exit 0; }
import numpy
PY

# build N: the ledger of N entries in $dir/lN (with a version that has a
# summary, for plan) unless it is there
build() {
	_p=$dir/l$1
	[ "$(cat "$_p/.built" 2>/dev/null)" = "$1" ] && return 0
	rm -rf "$_p" && mkdir -p "$_p"
	echo "  building $1 entries through the library (rq-bulk)..."
	RQ_BULK_FAMILIES=10 rq-bulk "$_p/.resque" "$1" >"$_p/.bulk" || { echo "  rq-bulk $1 failed"; return 1; }
	(cd "$_p" && "$PY" - <<-'PY'
	import numpy as np
	rng = np.random.default_rng(1)
	lab = np.repeat(np.arange(4), 250).astype(np.int64)
	for name, shift in (("base", 0.0), ("new", 0.4)):
	    x = rng.normal(size=(1000, 16)).astype(np.float32) + lab[:, None] + shift
	    np.save(name + "-emb.npy", x)
	    np.save(name + "-lab.npy", lab)
	PY
	) &&
	_last=$(cd "$_p" && resque log --type version -n 1 --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])') &&
	(cd "$_p" && resque commit --weights base-emb.npy --name bench-base --parent "$_last" --embeddings base-emb.npy \
		--labels base-lab.npy >/dev/null) || { echo "  commit failed"; return 1; }
	echo "$1" >"$_p/.built"
	echo "  built: $(cat "$_p/.bulk")"
}

for n in $sizes; do
	echo "-- $n entries"
	export RESQUE_HOME="$dir/home$n" # each ledger's key and memory apart
	build "$n" || continue
	"$PY" - "$dir/l$n" "$n" "$runs" "$RESQUE_HOME" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, tempfile, time
d, n, runs, home = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.chdir(d)
env = dict(os.environ)

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def timed(cmd, reps=runs, e=None, stdin=None):
    ws, cs = [], []
    for _ in range(reps):
        c0, t0 = cpu(), time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e or env,
                           input=stdin)
        ws.append(time.perf_counter() - t0)
        cs.append(cpu() - c0)
        if p.returncode != 0:
            err = p.stderr.decode(errors="replace").strip().splitlines()
            return None, "failed: exit %d: %s" % (p.returncode, err[-1] if err else "")
    return (statistics.median(ws), statistics.median(cs)), None

def row(label, r, goal=None, rate=False):
    t, why = r
    if t is None:
        print("  %-34s %s" % (label, why))
        return
    if rate:
        v = n / t[0]
        verdict = "" if goal is None else ("  goal >= %d/s: %s" % (goal, "met" if v >= goal else "NOT met"))
        print("  %-34s %9.0f entries/s (wall %.2f s, CPU %.2f s)%s" % (label, v, t[0], t[1], verdict))
    else:
        verdict = "" if goal is None else ("  goal < %g ms: %s" % (goal * 1000, "met" if t[0] < goal else "NOT met"))
        print("  %-34s %9.1f ms (CPU %.1f ms)%s" % (label, 1000 * t[0], 1000 * t[1], verdict))

def side(label, ours, theirs):
    if ours[0] is None or theirs[0] is None:
        return
    print("  %-34s %9.1fx" % (label, ours[0][0] / theirs[0][0]))

# append: one entry per process through the library, then as a command
r = timed(["rq-append", ".resque", "note"], reps=max(runs, 5), stdin=b'{"message":"bench append"}')
row("append (library, per entry)", r)
row("append (resque note)", timed(["resque", "note", "-m", "bench"], reps=max(runs, 5)))
row("verify (warm)", timed(["resque", "verify"], reps=1), 20000, rate=True)
cold_home = tempfile.mkdtemp(prefix="cold-home.")
shutil.copytree(os.path.join(home, "keys"), os.path.join(cold_home, "keys"))
ce = dict(env, RESQUE_HOME=cold_home)
try:
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    dropped = "page cache dropped"
except OSError:
    dropped = "page cache kept: not root"
row("verify (cold; %s)" % dropped, timed(["resque", "verify"], reps=1, e=ce), 20000, rate=True)
shutil.rmtree(cold_home, ignore_errors=True)
row("reindex", timed(["resque", "reindex"], reps=1))
row("first command after reindex (log -n 1)", timed(["resque", "log", "-n", "1"], reps=1))
log = timed(["resque", "log", "-n", "10"])
row("log -n 10", log, 0.05)
glog = timed(["git", "--git-dir=.resque", "log", "-n", "10", "ledger"])
row("  git log -n 10 (same repository)", glog)
side("  log -n 10 / git log -n 10", log, glog)
row("show latest", timed(["resque", "show", "latest"]), 0.05)
row("show latest~20", timed(["resque", "show", "latest~20"]))
row("plan (history of the lineage)", timed(["resque", "plan", "--from", "bench-base", "--embeddings", "new-emb.npy",
                                             "--labels", "new-lab.npy", "--intensity", "300", "--dry-run"]), 0.05)
row("report --format json", timed(["resque", "report", "--format", "json"], reps=1))
fsck = timed(["git", "--git-dir=.resque", "fsck"], reps=1)
row("  git fsck (same repository)", fsck)

def du(path):
    if os.path.isfile(path):
        return sum(os.lstat(p).st_blocks * 512 for p in (path, path + "-wal") if os.path.exists(p))
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total

size = n + 1
objects, index = du(".resque/objects"), du(".resque/index.db")
known = du(os.path.join(home, "known"))
rest = du(".resque") - objects - index
print("  disk per entry: git objects %.2f KB, index.db %.2f KB, other %.2f KB: %.2f KB in .resque "
      "(goal < 1.5 KB: %s); the memory of what was verified (%s) %.2f KB"
      % (objects / size / 1024, index / size / 1024, rest / size / 1024, du(".resque") / size / 1024,
         "met" if du(".resque") / size < 1536 else "NOT met", os.path.join(home, "known"), known / size / 1024))
packs = [f for f in os.listdir(".resque/objects/pack") if f.endswith(".pack")]
print("  packs: %d" % len(packs))
PY
done
