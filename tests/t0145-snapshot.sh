#!/bin/sh
# A consistent view (issue 11, item 5): readers take one snapshot of the
# ledger (its tip read once, the index read in one transaction, entries past
# that tip ignored), so `verify` and `log` running while another process
# appends never see a half-appended state; uniqueness checks (version names,
# dataset names, imported run ids) happen under the writer's lock, so
# parallel writers with the same name give exactly one entry.
# Every loop is bounded in time: a regression fails, it does not hang.
. "$(dirname "$0")/lib.sh"

test_requires TIMEOUT

APPENDER=
# start_appender DIR: a background process appending notes to DIR until
# $SCRATCH/stop exists (at most 120 s)
start_appender() {
	rm -f "$SCRATCH/stop"
	timeout 120 sh -c 'i=0; while [ ! -e "$1/stop" ]; do i=$((i + 1)); resque -C "$2" note -m "bg $i" >/dev/null 2>&1; done' \
		sh "$SCRATCH" "$1" &
	APPENDER=$!
}
stop_appender() {
	touch "$SCRATCH/stop"
	[ -n "$APPENDER" ] && wait "$APPENDER"
	APPENDER=
}
count() { git --git-dir="$1/.resque" rev-list --count ledger; }

test_expect_success 'setup: a repository with a few entries, verified' '
	resque key gen >/dev/null && expect_success resque init proj &&
	for m in one two three; do resque -C proj note -m "$m" >/dev/null || return 1; done &&
	expect_success resque -C proj verify
'

test_expect_success 'verify 15 times while another process appends: never a false problem' '
	start_appender proj && : >bad &&
	n0=$(count proj) && i=0 &&
	while [ $i -lt 15 ]; do
		i=$((i + 1))
		timeout 60 resque -C proj verify >"$OUT" 2>"$ERR"
		rc=$?
		if [ $rc != 0 ]; then
			{ echo "run $i: exit $rc"; sed "s/^/  /" "$OUT" "$ERR"; } >>bad
		fi
	done
	stop_appender
	n1=$(count proj) &&
	echo "$((n1 - n0)) entries appended during the 15 runs" >&2 &&
	test $((n1 - n0)) -ge 5 &&
	expect_success resque -C proj verify &&
	if [ -s bad ]; then cat bad >&2; return 1; fi
'

test_expect_success 'verify --json while appending: ok, entries and tip agree with each other' '
	start_appender proj && : >bad && i=0 &&
	while [ $i -lt 8 ]; do
		i=$((i + 1))
		timeout 60 resque -C proj verify --json >"$OUT" 2>"$ERR"
		rc=$?
		if [ $rc != 0 ]; then
			{ echo "run $i: exit $rc: $(cat "$ERR")"; json_get "$OUT" "d[\"problems\"]"; } >>bad 2>&1
			continue
		fi
		# the tip reported is the entry at seq entries-1 of the ledger
		n=$(json_get "$OUT" "d[\"entries\"]") && t=$(json_get "$OUT" "d[\"tip\"]") &&
		c=$(git --git-dir=proj/.resque rev-list --reverse ledger | sed -n "${n}p") &&
		w=$(git --git-dir=proj/.resque show "$c:entry" | sha256sum | cut -d" " -f1) &&
		[ "$w" = "$t" ] || echo "run $i: tip $t is not entry $((n - 1)) ($w)" >>bad
	done
	stop_appender
	if [ -s bad ]; then cat bad >&2; return 1; fi
'

test_expect_success 'log --json while appending: sequence numbers contiguous from 0, chained, newest as show says' '
	start_appender proj && : >bad && i=0 &&
	while [ $i -lt 10 ]; do
		i=$((i + 1))
		timeout 60 resque -C proj log --json >log.json 2>"$ERR"
		rc=$?
		[ $rc = 0 ] || { echo "run $i: exit $rc: $(cat "$ERR")" >>bad; continue; }
		"$PY" - log.json >>bad <<-\PYEOF || continue
		import json, sys
		d = json.load(open(sys.argv[1]))
		seqs = sorted(e["seq"] for e in d)
		if seqs != list(range(len(d))):
		    print("sequence numbers not contiguous from 0: %s" % seqs[-5:]); sys.exit(1)
		by = {e["seq"]: e for e in d}
		for s in range(1, len(d)):
		    if by[s].get("prev") != by[s - 1]["id"]:
		        print("entry %d: prev %s is not entry %d (%s)" % (s, by[s].get("prev"), s - 1, by[s - 1]["id"])); sys.exit(1)
		print("NEWEST %s %d" % (by[len(d) - 1]["id"], len(d) - 1), file=open("newest", "w"))
		PYEOF
		set -- $(cat newest) &&
		timeout 60 resque -C proj show "$2" --json >show.json 2>"$ERR" ||
			{ echo "run $i: show $2: exit $?: $(cat "$ERR")" >>bad; continue; }
		[ "$(json_get show.json "d[\"id\"]") $(json_get show.json "d[\"seq\"]")" = "$2 $3" ] ||
			echo "run $i: show $2 gives $(json_get show.json "(d[\"id\"], d[\"seq\"])")" >>bad
	done
	stop_appender
	if [ -s bad ]; then cat bad >&2; return 1; fi
'

# parallel N PREFIX COMMAND...: N copies of COMMAND at once in proj, each
# bounded to 60 s; exit statuses in PREFIX.rc.K, outputs in PREFIX.out.K,
# PREFIX.err.K
parallel() {
	_n=$1 _p=$2
	shift 2
	_k=0 _pids=
	while [ $_k -lt "$_n" ]; do
		_k=$((_k + 1))
		(cd proj && timeout 60 "$@" >"$SCRATCH/$_p.out.$_k" 2>"$SCRATCH/$_p.err.$_k"; echo $? >"$SCRATCH/$_p.rc.$_k") &
		_pids="$_pids $!"
	done
	for _pid in $_pids; do wait "$_pid"; done
}
# one_winner PREFIX N 'refusal message': exactly one exit 0, the others exit
# 1 saying the message; prints nothing on success
one_winner() {
	_ok=0 _k=0
	while [ $_k -lt "$2" ]; do
		_k=$((_k + 1))
		_rc=$(cat "$1.rc.$_k")
		if [ "$_rc" = 0 ]; then
			_ok=$((_ok + 1))
		elif [ "$_rc" != 1 ] || ! grep -q -E "$3" "$1.err.$_k"; then
			echo "writer $_k: exit $_rc: $(cat "$1.err.$_k")"
		fi
	done
	[ $_ok = 1 ] || echo "$_ok writers succeeded, expected exactly 1"
}

test_expect_success '6 parallel commit --name dup: exactly one version named dup' '
	printf w >proj/w.bin && printf "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1}" >proj/c.json &&
	parallel 6 dup resque commit --weights w.bin --name dup --cost c.json &&
	one_winner dup 6 "a version named .dup. exists" >bad &&
	expect_success resque -C proj log --json &&
	test "$(json_get "$OUT" "len([e for e in d if e[\"type\"] == \"version\" and e.get(\"name\") == \"dup\"])")" = 1 ||
		echo "versions named dup: $(json_get "$OUT" "len([e for e in d if e[\"type\"] == \"version\" and e.get(\"name\") == \"dup\"])")" >>bad
	expect_success resque -C proj verify || echo "verify failed afterwards" >>bad
	if [ -s bad ]; then cat bad >&2; return 1; fi
'

test_expect_success '6 parallel dataset add with one name: exactly one dataset entry' '
	mkdir -p proj/data && printf a >proj/data/a &&
	parallel 6 ds resque dataset add --name train data &&
	one_winner ds 6 "dataset name .train. is already in use" >bad &&
	expect_success resque -C proj log --json &&
	test "$(json_get "$OUT" "len([e for e in d if e[\"type\"] == \"dataset\" and e.get(\"name\") == \"train\"])")" = 1 ||
		echo "datasets named train: $(json_get "$OUT" "len([e for e in d if e[\"type\"] == \"dataset\" and e.get(\"name\") == \"train\"])")" >>bad
	if [ -s bad ]; then cat bad >&2; return 1; fi
'

test_expect_success '6 parallel import codecarbon of the same run: imported once' '
	printf "run_id,duration,emissions,energy_consumed\nrun-42,10,0.5,2.5\n" >proj/e.csv &&
	parallel 6 imp resque import codecarbon e.csv &&
	# each exits 0 (a re-run CI step succeeds); all but one say as what
	for k in 1 2 3 4 5 6; do
		[ "$(cat imp.rc.$k)" = 0 ] || echo "import $k: exit $(cat imp.rc.$k): $(cat imp.err.$k)"
	done >bad &&
	{ [ "$(cat imp.out.* | grep -c "run .run-42. already imported as")" = 5 ] || echo "not 5 times already imported" >>bad; } &&
	expect_success resque -C proj log --json && cp "$OUT" log.json &&
	n=$(for id in $(json_get log.json "\" \".join(e[\"id\"] for e in d if e[\"type\"] == \"actual\")"); do
		resque -C proj show "$id" --json | json_get /dev/stdin "d[\"body\"].get(\"source\", {}).get(\"run_id\")"; done | grep -c "^run-42$") &&
	{ [ "$n" = 1 ] || echo "actuals of run-42: $n" >>bad; } &&
	if [ -s bad ]; then cat bad >&2; return 1; fi
'

test_expect_success 'nothing left running, the ledger verifies' '
	stop_appender &&
	{ expect_success resque -C proj verify || { sed "s/^/  stdout: /" "$OUT" >&2; return 1; }; }
'

test_done
