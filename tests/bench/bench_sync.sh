#!/bin/sh
# Sync against git (issue 13, item 8): `resque clone` of a 10,000-entry
# ledger and `resque pull` of its last 1,000 entries, over file:// and over
# git:// (git daemon on 127.0.0.1), side by side with `git clone --bare` and
# `git fetch` of the same repositories. Goal: resque within 1.5x of git,
# its verification included. Each row prints the median wall time and CPU
# time of N runs of both and the ratio resque/git of the wall times; never
# fails on speed. A command not built yet prints "not built".
#
# Every resque clone runs with a fresh, empty RESQUE_HOME, so that it
# verifies the whole ledger from scratch (signatures, chain, signers,
# attachments) and builds its index: the honest cost of a first clone.
# git checks only that the objects it received are connected. A pull runs
# with the RESQUE_HOME its clone left (that verified the older entries),
# so it verifies the new entries only, as a pull does day to day.
#
# Repositories, under $BENCH_DIR/sync, built once and reused while
# BENCH_DIR is kept: the ledger by tests/helpers/rq-bulk, srv/full.git (its
# ledger branch pushed by git) and srv/behind.git (the same objects up to
# the entry PULL before the tip, fetched by git). The pull side starts
# from a clone of behind.git (resque clone, git clone --bare), copied
# afresh before each run, whose origin is then full.git.
#   BENCH_SYNC_ENTRIES   entries of the ledger (default 10000)
#   BENCH_SYNC_PULL      entries the pull receives (default 1000)
#   BENCH_SYNC_RUNS      runs of each measurement (default 3)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
PY=${PY:-/usr/bin/python3}
n=${BENCH_SYNC_ENTRIES:-10000}
pull=${BENCH_SYNC_PULL:-1000}
runs=${BENCH_SYNC_RUNS:-3}
dir=$BENCH_DIR/sync
mkdir -p "$dir"
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_NOW RESQUE_EVENTS GIT_DIR
export RESQUE_HOME="$dir/home" # the key that signed the cached ledger
if [ "$pull" -ge "$n" ] || [ "$pull" -lt 1 ]; then
	echo "BENCH_SYNC_PULL ($pull) must be between 1 and BENCH_SYNC_ENTRIES - 1 ($((n - 1)))" >&2
	exit 1
fi

# ---- the repositories ---------------------------------------------------------
L=$dir/l$n srv=$dir/srv$n-$pull
if [ "$(cat "$L/.built" 2>/dev/null)" = "$n" ]; then
	echo "ledger: $n entries from rq-bulk (cached: $L)"
else
	rm -rf "$L" && mkdir -p "$L"
	t=$(rq-bulk "$L/.resque" "$n") || { echo "rq-bulk $n failed" >&2; exit 1; }
	echo "$n" >"$L/.built"
	echo "ledger: $n entries, built by rq-bulk: $t"
fi
if [ "$(cat "$srv/.built" 2>/dev/null)" != "$n $pull" ]; then
	rm -rf "$srv" && mkdir -p "$srv" &&
	git init -q --bare "$srv/full.git" &&
	git --git-dir="$L/.resque" push -q "$srv/full.git" ledger:refs/heads/ledger &&
	git --git-dir="$srv/full.git" symbolic-ref HEAD refs/heads/ledger &&
	back=$(git --git-dir="$srv/full.git" rev-parse "ledger~$pull") &&
	git init -q --bare "$srv/behind.git" &&
	git --git-dir="$srv/behind.git" fetch -q "$srv/full.git" "$back:refs/heads/ledger" &&
	git --git-dir="$srv/behind.git" symbolic-ref HEAD refs/heads/ledger &&
	echo "$n $pull" >"$srv/.built" || { echo "could not make the remotes in $srv" >&2; exit 1; }
fi
full=$srv/full.git behind=$srv/behind.git
echo "remotes: $full ($n entries), $behind ($((n - pull)) entries), $(du -sh "$full" | cut -f1) on disk"

# have CMD: whether `resque CMD` exists in this build
have() { resque help "$1" >/dev/null 2>&1; }

# ---- git daemon on 127.0.0.1 (stopped on exit, also on failure) -------------
daemon_pid=""
stop_daemon() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	daemon_pid=""
}
trap 'stop_daemon' EXIT
trap 'stop_daemon; exit 130' INT
trap 'stop_daemon; exit 143' TERM HUP
# start_daemon: sets GIT_URL=git://127.0.0.1:PORT serving $srv, or says why not
start_daemon() {
	_d=/usr/lib/git-core/git-daemon
	[ -x "$_d" ] || _d="$(git --exec-path 2>/dev/null)/git-daemon"
	[ -x "$_d" ] || { daemon_why="git daemon not installed (apt-get install git)"; return 1; }
	_try=0
	while [ $_try -lt 5 ]; do
		_try=$((_try + 1))
		_p=$("$PY" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || break
		"$_d" --listen=127.0.0.1 --port="$_p" --reuseaddr --export-all --base-path="$srv" "$srv" \
			</dev/null >>"$dir/git-daemon.log" 2>&1 &
		daemon_pid=$!
		# 0: it accepts connections; 2: it died (port taken meanwhile: retry)
		"$PY" -c 'import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close(); sys.exit(0)
    except OSError:
        pass
    try:  # gone, or a zombie that the shell has not reaped yet
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(2)
    except FileNotFoundError:
        sys.exit(2)
    time.sleep(0.02)
sys.exit(1)' "$_p" "$daemon_pid"
		case $? in
		0) GIT_URL="git://127.0.0.1:$_p"; return 0 ;;
		2) wait "$daemon_pid" 2>/dev/null; daemon_pid="" ;;
		*) stop_daemon; daemon_why="git daemon did not accept connections within 10 s ($dir/git-daemon.log)"; return 1 ;;
		esac
	done
	stop_daemon
	daemon_why="git daemon exited at start 5 times ($dir/git-daemon.log)"
	return 1
}

# timeit PREP COMMAND...: N runs of COMMAND in $w, `sh -c PREP` before each
# (not timed); prints "MEDIAN-WALL MEDIAN-CPU MIN-WALL" in seconds (CPU:
# user + system of the command and its children, so the server side over
# file://, where the client runs it, but not git daemon's), or "failed: ..."
w=$dir/work
timeit() {
	"$PY" - "$w" "$runs" "$@" <<-\PYEOF
	import resource, statistics, subprocess, sys, time
	d, n, prep, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
	ts, cs = [], []
	def cpu():
	    r = resource.getrusage(resource.RUSAGE_CHILDREN)
	    return r.ru_utime + r.ru_stime
	def fail(what, p):
	    err = p.stderr.decode(errors="replace").strip().splitlines()
	    print("failed: %sexit %d: %s" % (what, p.returncode, err[-1] if err else ""))
	    sys.exit(0)
	for _ in range(n):
	    p = subprocess.run(["sh", "-c", prep], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
	    if p.returncode != 0:
	        fail("preparing: ", p)
	    c0, t0 = cpu(), time.perf_counter()
	    p = subprocess.run(cmd, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
	    ts.append(time.perf_counter() - t0)
	    cs.append(cpu() - c0)
	    if p.returncode != 0:
	        fail("", p)
	print("%.4f %.4f %.4f" % (statistics.median(ts), statistics.median(cs), min(ts)))
	PYEOF
}

# reached GITDIR TIMEIT: TIMEIT, or "failed: ..." when the last run left
# GITDIR's ledger branch short of the full remote's tip (work not done)
tip=$(git --git-dir="$full" rev-parse ledger)
reached() {
	case "$2" in
	failed* | "not built" | skipped*) echo "$2"; return ;;
	esac
	if [ "$(git --git-dir="$w/$1" rev-parse -q --verify refs/heads/ledger 2>/dev/null)" = "$tip" ]; then
		echo "$2"
	else
		echo "failed: $1 did not reach the remote's tip"
	fi
}

# row LABEL ENTRIES RESQUE GIT: RESQUE and GIT are timeit's outputs (or
# "not built", "skipped: WHY"); the ratio and the verdict are on the
# median wall times, goal resque <= 1.5x git
row() {
	case "$3" in
	skipped*) printf "  %-30s %6s  %s\n" "$1" "$2" "$3"; return ;;
	failed*) printf "  %-30s %6s  resque %s\n" "$1" "$2" "$3"; return ;;
	esac
	case "$4" in
	failed* | skipped*) printf "  %-30s %6s  git %s\n" "$1" "$2" "$4"; return ;;
	esac
	if [ "$3" = "not built" ]; then # git's figures still, for the record
		echo "$4" | awk -v l="$1" -v k="$2" '{ printf "  %-30s %6s  %20s  %8.3f s %7.3f s  resque not built\n", l, k, "", $1, $2 }'
		return
	fi
	awk -v l="$1" -v k="$2" -v r="$3" -v q="$4" 'BEGIN {
		split(r, a, " "); split(q, b, " ")
		x = (b[1] > 0 ? a[1] / b[1] : 0)
		printf "  %-30s %6s  %8.3f s %7.3f s  %8.3f s %7.3f s  %6.2fx  <= 1.5x  %s\n", l, k, a[1], a[2], b[1], b[2], x,
			(x <= 1.5 ? "ok" : "MISSED")
	}'
}
info() { # LABEL ENTRIES TIMEIT: resque alone, no goal
	case "$3" in
	failed* | "not built" | skipped*) printf "  %-30s %6s  %s\n" "$1" "$2" "$3"; return ;;
	esac
	echo "$3" | awk -v l="$1" -v k="$2" '{ printf "  %-30s %6s  %8.3f s %7.3f s  (resque alone, no goal)\n", l, k, $1, $2 }'
}

rm -rf "$w" && mkdir -p "$w"
start_daemon || echo "  git://: skipped: $daemon_why"
echo "$(nproc) cores; median of $runs runs; resque clone with a fresh RESQUE_HOME each run (verifies"
echo "all $n entries and builds the index), git clone checks connectivity only; pull of the last $pull"
printf "  %-30s %6s  %10s %9s  %10s %9s  %7s  %s\n" "" entries "resque" "cpu" "git" "cpu" "ratio" "goal"

# ---- clone ------------------------------------------------------------------
# RESQUE_HOME=$w/h, emptied before each run: nothing known, nothing trusted
for t in file git; do
	if [ $t = file ]; then url=file://$full; else url=${GIT_URL:-}/full.git; fi
	if [ $t = git ] && [ -z "${GIT_URL:-}" ]; then
		row "clone $t://" "$n" "skipped: $daemon_why"
		continue
	fi
	if have clone; then
		r=$(reached c/.resque "$(RESQUE_HOME=$w/h timeit 'rm -rf c h' resque clone "$url" c)")
	else
		r="not built"
	fi
	q=$(reached c.git "$(timeit 'rm -rf c.git' git clone -q --bare --single-branch -b ledger "$url" c.git)")
	row "clone $t://" "$n" "$r" "$q"
done
# Where a clone's time goes: the two passes over the ledger it makes, each
# alone on a clone: verify with a fresh home, and reindex (with the home
# that verify left, so that the guard has nothing to check)
if have clone && RESQUE_HOME=$w/h resque clone "file://$full" "$w/v" >/dev/null 2>&1; then
	info "  (verify alone, fresh home)" "$n" "$(RESQUE_HOME=$w/h timeit 'rm -rf h' resque -C v verify)"
	info "  (reindex alone)" "$n" "$(RESQUE_HOME=$w/h timeit ':' resque -C v reindex)"
fi
rm -rf "$w/c" "$w/c.git" "$w/h" "$w/v"

# ---- pull -------------------------------------------------------------------
# Templates: behind.git cloned once by each tool (resque with its own home,
# kept: it knows the older entries), copied before each run, origin set to
# the full remote. git fetches the ledger branch into the bare clone.
if have pull && have clone; then
	RESQUE_HOME=$w/pull-home resque clone "file://$behind" "$w/pull-tmpl" >/dev/null 2>"$w/err" ||
		{ echo "  resque clone of $behind failed: $(tail -n 1 "$w/err")"; }
fi
git clone -q --bare --single-branch -b ledger "file://$behind" "$w/pull-tmpl.git" 2>"$w/err" ||
	echo "  git clone of $behind failed: $(tail -n 1 "$w/err")"
for t in file git; do
	if [ $t = file ]; then url=file://$full; else url=${GIT_URL:-}/full.git; fi
	if [ $t = git ] && [ -z "${GIT_URL:-}" ]; then
		row "pull $t:// (last $pull)" "$pull" "skipped: $daemon_why"
		continue
	fi
	if ! have pull; then
		r="not built"
	elif [ ! -d "$w/pull-tmpl/.resque" ]; then
		r="failed: no clone of $behind to pull into"
	else
		# the remote's URL as git stores it: resque's remotes are git remotes
		r=$(RESQUE_HOME=$w/h timeit "rm -rf p h && cp -r pull-tmpl p && cp -r pull-home h &&
			git --git-dir=p/.resque config remote.origin.url '$url'" resque -C p pull)
		r=$(reached p/.resque "$r")
	fi
	q=$(timeit "rm -rf p.git && cp -r pull-tmpl.git p.git" \
		git --git-dir=p.git fetch -q "$url" +refs/heads/ledger:refs/heads/ledger)
	q=$(reached p.git "$q")
	row "pull $t:// (last $pull)" "$pull" "$r" "$q"
done
stop_daemon
rm -rf "$w"
exit 0
