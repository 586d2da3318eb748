#!/bin/sh
# `resque verify` in entries per second (issue 16, item 3) on two ledgers
# built by tests/helpers/rq-bulk: notes only (the smallest entries: the
# cost is mostly Ed25519) and the realistic mix with attachments (versions
# carrying a 41 KB summary.rqs, plans, actuals, imports, notes). For each:
# warm (the median of several runs; verify's memory of the ledger is there),
# cold (after `resque reindex`, with an empty $RESQUE_HOME: no memory of it,
# the first verify ever), and the guard's cold start (`resque log -n 1` with
# an empty $RESQUE_HOME verifies the whole ledger once, through the same
# code). Printed beside the goals (>= 20,000 entries/s for notes, >= 10,000/s
# for the mix, wall time); never fails on speed. The ledgers are built once
# under $BENCH_DIR/verify and reused while BENCH_DIR is kept.
#   BENCH_VERIFY_NOTES   entries of the notes ledger (default 20000)
#   BENCH_VERIFY_MIX     entries of the mixed ledger (default 20000)
#   BENCH_VERIFY_RUNS    runs of each warm measurement (default 3)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
PY=${PY:-/usr/bin/python3}
notes=${BENCH_VERIFY_NOTES:-20000}
mix=${BENCH_VERIFY_MIX:-20000}
runs=${BENCH_VERIFY_RUNS:-3}
dir=$BENCH_DIR/verify
mkdir -p "$dir"
export RESQUE_HOME="$dir/home" # the key that signed the cached ledgers
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_NOW RESQUE_EVENTS

# ledger NAME OPTION N: build the ledger of N entries in $dir/NAME unless it is there
ledger() {
	_p=$dir/$1
	[ "$(cat "$_p/.built" 2>/dev/null)" = "$3" ] && { echo "  cached: $_p"; return 0; }
	rm -rf "$_p"
	mkdir -p "$_p"
	_t=$(rq-bulk "$2" "$_p/.resque" "$3") || { echo "  rq-bulk $2 $3 failed" >&2; return 1; }
	echo "$3" >"$_p/.built"
	echo "  built by rq-bulk $2: $_t"
}

# timeit DIR N COMMAND...: run COMMAND N times in DIR (stdout discarded);
# prints "FIRST MEDIAN CPU-FIRST CPU-MEDIAN" in seconds (wall time, and
# user + system time of the command, which a busy machine inflates less),
# or "failed: REASON". $BEFORE, when set, is run (silently) before each run.
timeit() {
	"$PY" - "$@" <<-\PYEOF
	import os, resource, statistics, subprocess, sys, time
	d, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
	before = os.environ.get("BEFORE")
	ts, cs = [], []
	def cpu():
	    r = resource.getrusage(resource.RUSAGE_CHILDREN)
	    return r.ru_utime + r.ru_stime
	for _ in range(n):
	    if before:
	        subprocess.run(before, shell=True, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
	    c0, t0 = cpu(), time.perf_counter()
	    p = subprocess.run(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
	    ts.append(time.perf_counter() - t0)
	    cs.append(cpu() - c0)
	    if p.returncode != 0:
	        err = p.stderr.decode(errors="replace").strip().splitlines()
	        print("failed: exit %d: %s" % (p.returncode, err[0] if err else ""))
	        sys.exit(0)
	print("%.4f %.4f %.4f %.4f" % (ts[0], statistics.median(ts), cs[0], statistics.median(cs)))
	PYEOF
}

# row LABEL ENTRIES "FIRST MEDIAN CPU CPU" WHICH GOAL: entries/s of the
# first run (WHICH = first) or of the median (median), against GOAL
row() {
	case "$3" in
	failed*) printf "  %-50s %7s  %s\n" "$1" "$2" "$3"; return ;;
	esac
	awk -v l="$1" -v n="$2" -v r="$3" -v k="$4" -v g="$5" 'BEGIN {
		split(r, t, " ")
		s = (k == "first" ? t[1] : t[2]); c = (k == "first" ? t[3] : t[4])
		v = n / s
		printf "  %-50s %7d  %7.3f s  %6.3f s  %8.0f/s  %8.0f/s   >= %d/s  %s\n", l, n, s, c, v, n / c, g,
			(v >= g ? "ok" : "MISSED")
	}'
}

# measure NAME LABEL GOAL
measure() {
	_p=$dir/$1
	_n=$(cat "$_p/.built")
	_empty=$dir/empty-home
	row "$2, warm" "$_n" "$(timeit "$_p" "$runs" resque verify)" median "$3"
	row "$2, --json, warm" "$_n" "$(timeit "$_p" "$runs" resque verify --json)" median "$3"
	row "$2, cold (reindex, no memory)" "$_n" \
		"$(BEFORE="resque reindex; rm -rf '$_empty'" timeit "$_p" 1 env RESQUE_HOME="$_empty" resque verify)" first "$3"
	row "$2, guard cold start (log -n 1)" "$_n" \
		"$(BEFORE="rm -rf '$_empty'" timeit "$_p" 1 env RESQUE_HOME="$_empty" resque log -n 1)" first "$3"
	rm -rf "$_empty"
}

echo "verify: $notes notes, $mix mixed entries with attachments, from rq-bulk; $(nproc) cores" \
	"(RESQUE_THREADS=${RESQUE_THREADS:-all}), warm = median of $runs runs"
ledger notes --notes "$notes" || exit 0
ledger mix --attachments "$mix" || exit 0
resque -C "$dir/notes" verify >/dev/null 2>&1 # verify's memory, for the warm runs
resque -C "$dir/mix" verify >/dev/null 2>&1
# the wall times mean little on a shared machine: say how busy it was
load() { cut -d" " -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
echo "  load average before: $(load) (wall time is CPU time / cores only on an idle machine)"
printf "  %-50s %7s  %9s  %8s  %10s  %10s   %s\n" "" entries wall cpu "rate" "per cpu-s" goal
measure notes "notes only" 20000
measure mix "mix with attachments" 10000
echo "  load average after: $(load)"
exit 0
