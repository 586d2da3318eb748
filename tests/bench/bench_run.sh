#!/bin/sh
# What metering costs: the start-up overhead of `resque run` (open the
# ledger, start the meter, record a signed actual) against running the
# command bare, and resque's own CPU time while it samples an idle command
# at several intervals. Prints seconds and ratios; never fails on speed.
#   BENCH_RUN_N        runs of the start-up comparison (default 20)
#   BENCH_RUN_SECONDS  length of the idle command (default 5)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
n=${BENCH_RUN_N:-20}
secs=${BENCH_RUN_SECONDS:-5}
dir=$BENCH_DIR/run
mkdir -p "$dir"
export HOME="$dir/home" RESQUE_HOME="$dir/home/.config/resque"
unset RESQUE_DIR RESQUE_EVENTS
cd "$dir" && resque init p >/dev/null 2>&1 && cd p || { echo "cannot create a repository"; exit 1; }

"$PY" - "$n" "$secs" <<'PY'
import os, subprocess, sys, time
n, secs = int(sys.argv[1]), float(sys.argv[2])

def wall(cmd, reps):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        best = min(best, time.perf_counter() - t)
    return best

bare = wall(["true"], n)
run = wall(["resque", "run", "--meter", "estimate", "--", "true"], n)
print(f"start-up, best of {n}: true {bare*1e3:.2f} ms, resque run -- true {run*1e3:.2f} ms "
      f"(overhead {1e3*(run-bare):.1f} ms per run, ledger entry included)")

print(f"resque's own CPU time while metering `sleep {secs:g}` (estimate meter):")
for interval in ["1", "0.1", "0.01"]:
    before = os.times()
    subprocess.run(["resque", "run", "--meter", "estimate", "--interval", interval, "--", "sleep", str(secs)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = os.times()
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    print(f"  --interval {interval:>4}: {cpu*1e3:7.1f} ms CPU = {100*cpu/secs:.3f} % of one core")
PY
