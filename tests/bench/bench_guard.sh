#!/bin/sh
# The guard's cost (issue 11, item 2): every command checks the ledger's
# tip against the last verified one and verifies only the entries new since.
# Goal: a command's start-up on a 10,000-entry ledger with nothing new stays
# within a few milliseconds of what it was before the guard. Measured: the
# median wall time (and CPU time) of N runs of two cheap commands,
# `resque show --json ID` (the entry in the middle) and `resque log -n 1`,
#   - with nothing new since the last verify (memory warm),
#   - with 1 and with 100 entries appended since by another resque process
#     (same key, another RESQUE_HOME): RESQUE_HOME is put back as it was
#     after the verify before every run, so each run sees them as new.
# The ledger is built once by tests/helpers/rq-bulk under $BENCH_DIR/guard
# and copied for each measurement; never fails on speed. Closes with the
# start-up of `resque --version` and `resque log -n 1` beside git's.
#   BENCH_GUARD_ENTRIES   entries of the ledger (default 10000)
#   BENCH_GUARD_RUNS      runs of each measurement (default 20)
#   BENCH_GUARD_LOG_RUNS  runs of `log -n 1` (default 5: today it reads
#                         every entry, ~2 s at 10,000)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
PY=${PY:-/usr/bin/python3}
n=${BENCH_GUARD_ENTRIES:-10000}
runs=${BENCH_GUARD_RUNS:-20}
logruns=${BENCH_GUARD_LOG_RUNS:-5}
dir=$BENCH_DIR/guard
mkdir -p "$dir"
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_NOW RESQUE_EVENTS
export RESQUE_HOME="$dir/home" # the key that signed the ledger, and the memory
other="$dir/other-home"        # another user of the same key: its own memory

base=$dir/base$n
if [ "$(cat "$base/.built" 2>/dev/null)" = "$n" ]; then
	echo "ledger: $n entries from rq-bulk (cached: $base)"
else
	rm -rf "$base" && mkdir -p "$base"
	t=$(rq-bulk "$base/.resque" "$n") || { echo "rq-bulk $n failed" >&2; exit 1; }
	echo "$n" >"$base/.built"
	echo "ledger: $n entries, built by rq-bulk: $t"
fi
w=$dir/work
g() { git --git-dir="$w/.resque" "$@"; }

# fresh: a copy of the ledger, verified once (memory warm), RESQUE_HOME saved
fresh() {
	# (the memory forgotten: the last round's appends were remembered)
	rm -rf "$w" "$dir/home.saved" "$other" "$RESQUE_HOME/known" "$RESQUE_HOME"/known_ledgers* &&
	cp -r "$base" "$w" &&
	resque -C "$w" verify >/dev/null 2>&1 || { echo "verify of the fresh copy failed" >&2; return 1; }
	mkdir -p "$other" && cp -r "$RESQUE_HOME/keys" "$other/" && cp -r "$RESQUE_HOME" "$dir/home.saved"
}
# append K: K notes appended by another resque process (RESQUE_HOME=$other)
append() {
	_i=0
	while [ $_i -lt "$1" ]; do
		_i=$((_i + 1))
		RESQUE_HOME=$other resque -C "$w" note -m "from elsewhere $_i" >/dev/null 2>&1 ||
			{ echo "append $_i failed" >&2; return 1; }
	done
}

# timeit N COMMAND...: N runs in $w, RESQUE_HOME put back before each (not
# timed); prints "MEDIAN-WALL MEDIAN-CPU MIN-WALL" in seconds, or "failed: ..."
timeit() {
	"$PY" - "$w" "$RESQUE_HOME" "$dir/home.saved" "$@" <<-\PYEOF
	import os, resource, shutil, statistics, subprocess, sys, time
	d, home, saved, n, cmd = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
	ts, cs = [], []
	def cpu():
	    r = resource.getrusage(resource.RUSAGE_CHILDREN)
	    return r.ru_utime + r.ru_stime
	for _ in range(n):
	    shutil.rmtree(home)
	    shutil.copytree(saved, home, symlinks=True)
	    c0, t0 = cpu(), time.perf_counter()
	    p = subprocess.run(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
	    ts.append(time.perf_counter() - t0)
	    cs.append(cpu() - c0)
	    if p.returncode != 0:
	        err = p.stderr.decode(errors="replace").strip().splitlines()
	        print("failed: exit %d: %s" % (p.returncode, err[0] if err else ""))
	        sys.exit(0)
	print("%.5f %.5f %.5f" % (statistics.median(ts), statistics.median(cs), min(ts)))
	PYEOF
}
row() { # LABEL NEW "MEDIAN CPU MIN"
	case "$3" in
	failed*) printf "  %-40s %5s  %s\n" "$1" "$2" "$3"; return ;;
	esac
	echo "$3" | awk -v l="$1" -v k="$2" '{ printf "  %-40s %5s  %8.1f ms  %8.1f ms  %8.1f ms\n", l, k, $1 * 1000, $2 * 1000, $3 * 1000 }'
}

fresh || exit 1
c=$(g rev-list --reverse ledger | sed -n "$((n / 2 + 1))p")
id=$(g show "$c:entry" | sha256sum | cut -d' ' -f1)
echo "$(nproc) cores; median of $runs runs ($logruns of log); entry $((n / 2)) is $(echo "$id" | cut -c1-12)"
printf "  %-40s %5s  %11s  %11s  %11s\n" "command" "new" "wall" "cpu" "best wall"
row "true (process start-up)" 0 "$(timeit "$runs" true)"
for k in 0 1 100; do
	# RESQUE_HOME as saved right after the verify: the k notes are new to it
	fresh && append "$k" || continue
	row "show --json (entry $((n / 2)))" "$k" "$(timeit "$runs" resque show --json "$id")"
	row "log -n 1" "$k" "$(timeit "$logruns" resque log -n 1)"
done

# Start-up beside git's (issue 16 item 4, docs/PERFORMANCE.md "Start-up"):
# the median CPU time (user + system) of `resque --version` and of
# `resque log -n 1` on this ledger against `git --version` and `git log -1`
# on its ledger branch, and the ratios of CPU and of median wall time.
vs() { # LABEL "MEDIAN CPU MIN" (resque) "MEDIAN CPU MIN" (git)
	case "$2 $3" in
	*failed*) printf "  %-40s %s / %s\n" "$1" "$2" "$3"; return ;;
	esac
	echo "$2 $3" | awk -v l="$1" '{ printf "  %-40s %8.1f ms  %8.1f ms  %6.1fx  %6.1fx\n", l, $2 * 1000, $5 * 1000,
		($5 > 0 ? $2 / $5 : 0), ($4 > 0 ? $1 / $4 : 0) }'
}
fresh || exit 1
printf "  %-40s %11s  %11s  %7s  %7s\n" "start-up against git" "resque cpu" "git cpu" "cpu" "wall"
vs "resque --version / git --version" "$(timeit "$runs" resque --version)" "$(timeit "$runs" git --version)"
vs "resque log -n 1 / git log -1 ($n)" "$(timeit "$logruns" resque log -n 1)" \
	"$(timeit "$runs" git --git-dir=.resque log -1 ledger)"
rm -rf "$w" "$other" "$dir/home.saved"
