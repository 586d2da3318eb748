#!/bin/sh
# The ledger at scale (issue 10, item 8): `resque verify` in entries per
# second, `resque report` in each format and `resque audit report` on a
# ledger of 10,000 entries, `resque checkpoint` and `resque audit prove` on
# 100,000 entries, the first call after `resque reindex` (cold) and the
# median of several (warm). Each measurement is printed beside its goal;
# never fails on speed. A command not built yet prints "not built".
# The ledgers are built once by tests/helpers/rq-bulk (versions, plans with
# forecasts, actuals linked to them, imports and notes over 2023-01-01 ..
# 2025-06-30) under $BENCH_DIR/ledger, with their key, and reused while
# BENCH_DIR is kept.
#   BENCH_LEDGER_SMALL   entries of the report ledger (default 10000)
#   BENCH_LEDGER_BIG     entries of the proof ledger (default 100000)
#   BENCH_LEDGER_RUNS    runs of each warm measurement (default 5)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
PY=${PY:-/usr/bin/python3}
small=${BENCH_LEDGER_SMALL:-10000}
big=${BENCH_LEDGER_BIG:-100000}
runs=${BENCH_LEDGER_RUNS:-5}
dir=$BENCH_DIR/ledger
mkdir -p "$dir"
export RESQUE_HOME="$dir/home" # the key that signed the cached ledgers
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_NOW RESQUE_EVENTS

# ledger N: build the ledger of N entries in $dir/lN unless it is there
ledger() {
	_p=$dir/l$1
	[ "$(cat "$_p/.built" 2>/dev/null)" = "$1" ] && { echo "  cached: $_p"; return 0; }
	rm -rf "$_p"
	mkdir -p "$_p"
	_t=$(rq-bulk "$_p/.resque" "$1") || { echo "  rq-bulk $1 failed" >&2; return 1; }
	echo "$1" >"$_p/.built"
	echo "  built by rq-bulk: $_t"
}

# have CMD [SUB]: whether `resque CMD [SUB]` exists in this build
have() {
	resque help "$1" >/dev/null 2>&1 || return 1
	[ $# -lt 2 ] && return 0
	resque "$1" "$2" --help >/dev/null 2>&1
}

# timeit DIR N COMMAND...: run COMMAND N times in DIR (stdout discarded);
# prints "FIRST MEDIAN CPU-FIRST CPU-MEDIAN" in seconds (wall time, and
# user + system time of the command, which a busy machine inflates less),
# or "failed: REASON"
timeit() {
	"$PY" - "$@" <<-\PYEOF
	import resource, statistics, subprocess, sys, time
	d, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
	ts, cs = [], []
	def cpu():
	    r = resource.getrusage(resource.RUSAGE_CHILDREN)
	    return r.ru_utime + r.ru_stime
	for _ in range(n):
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

# row LABEL ENTRIES "FIRST MEDIAN CPU CPU" KIND GOAL: KIND is `rate`
# (entries/s of the first run, goal a minimum), `first` or `median`
# (seconds, goal a maximum) or `info` (the first run, no goal); the verdict
# is on wall time
row() {
	case "$3" in
	failed*) printf "  %-44s %7s  %s\n" "$1" "$2" "$3"; return ;;
	"not built") printf "  %-44s %7s  not built\n" "$1" "$2"; return ;;
	esac
	awk -v l="$1" -v n="$2" -v r="$3" -v k="$4" -v g="${5:-}" 'BEGIN {
		split(r, t, " ")
		if (k == "rate") {
			v = n / t[1]
			printf "  %-44s %7d  %8.3f s  %6.3f s  %8.0f/s   >= %d/s  %s\n", l, n, t[1], t[3], v, g,
				(v >= g ? "ok" : "MISSED")
		} else if (k == "info") {
			printf "  %-44s %7d  %8.3f s  %6.3f s  %10s   (no goal)\n", l, n, t[1], t[3], ""
		} else {
			s = (k == "first" ? t[1] : t[2]); c = (k == "first" ? t[3] : t[4])
			printf "  %-44s %7d  %8.3f s  %6.3f s  %10s   < %g s  %s\n", l, n, s, c, "", g,
				(s < g ? "ok" : "MISSED")
		}
	}'
}

echo "ledger: $small and $big entries from rq-bulk, $(nproc) cores, warm = median of $runs runs"
ledger "$small" || exit 0
ledger "$big" || exit 0
S=$dir/l$small B=$dir/l$big
printf "  %-44s %7s  %10s  %8s  %10s   %s\n" "" entries wall cpu rate goal

# ---- verify ----------------------------------------------------------------
for p in "$S" "$B"; do
	n=$(cat "$p/.built")
	row "verify" "$n" "$(timeit "$p" 1 resque verify)" rate 20000
done

# ---- reports on the small ledger ---------------------------------------------
if have report; then
	for f in text md json csv html; do
		row "report --format $f" "$small" "$(timeit "$S" "$runs" resque report --format "$f")" median 1
	done
else
	row "report (each format)" "$small" "not built"
fi
if have audit report && have key export && have report; then
	resque -C "$S" key export >"$dir/key.pub" 2>/dev/null
	for f in json html; do
		resque -C "$S" report --format "$f" -o "$dir/report.$f" >/dev/null 2>&1
		row "audit report ($f report)" "$small" \
			"$(timeit "$S" "$runs" resque audit report --key "$(cat "$dir/key.pub")" "$dir/report.$f")" median 1
	done
else
	row "audit report" "$small" "not built"
fi

# ---- checkpoint and proofs on the big ledger ---------------------------------
# `resque reindex` is the one pass that rebuilds index.db, the Merkle tree's
# perfect subtrees included; then the first call (cold) and warm calls.
# Proofs of an entry named by its name (v... is a version of rq-bulk's
# seven-entry cycle near the middle), its sequence number and its id prefix.
mid=$((big / 2))
name=v$(((mid - 1) / 7 + 1))
prefix=$(resque -C "$B" show "$name" --json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"][:12])' 2>/dev/null)
row "reindex (one pass: entries, Merkle tree)" "$big" "$(timeit "$B" 1 resque reindex)" info
if have checkpoint; then # the timed reindex just above left the index fresh
	row "checkpoint, cold (after reindex)" "$big" "$(timeit "$B" 1 resque checkpoint)" first 0.1
	row "checkpoint, warm" "$big" "$(timeit "$B" "$runs" resque checkpoint)" median 0.1
	row "checkpoint --size $mid, warm" "$big" "$(timeit "$B" "$runs" resque checkpoint --size "$mid")" median 0.1
else
	row "checkpoint" "$big" "not built"
fi
if have audit prove; then
	resque -C "$B" reindex >/dev/null 2>&1
	row "audit prove $name, cold (after reindex)" "$big" "$(timeit "$B" 1 resque audit prove "$name")" first 0.1
	row "audit prove $name (by name), warm" "$big" "$(timeit "$B" "$runs" resque audit prove "$name")" median 0.1
	row "audit prove $mid (by seq), warm" "$big" "$(timeit "$B" "$runs" resque audit prove "$mid")" median 0.1
	row "audit prove ${prefix:-?} (by id), warm" "$big" \
		"$(timeit "$B" "$runs" resque audit prove "${prefix:-?}")" median 0.1
	row "audit prove $name --size $mid, warm" "$big" \
		"$(timeit "$B" "$runs" resque audit prove "$name" --size "$mid")" median 0.1
	row "audit consistency $mid $big, warm" "$big" \
		"$(timeit "$B" "$runs" resque audit consistency "$mid" "$big")" median 0.1
else
	row "audit prove" "$big" "not built"
fi
exit 0
