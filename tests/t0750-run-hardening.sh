#!/bin/sh
# resque run hardening (issue 11, items 7 and 9): no secret reaches the
# command, keys others can read or write are refused, the command dies
# with a killed resque, daemons are metered through a cgroup (or the
# record says they were not), and epoch marks past a million lines are kept.
. "$(dirname "$0")/lib.sh"

# Events files of this script only: the stale-file sweep is checked here.
mkdir -p "$SCRATCH/tmp"
TMPDIR="$SCRATCH/tmp"
export TMPDIR

test_expect_success 'setup: a repository signed with an encrypted key' '
	RESQUE_PASSPHRASE=s3cret expect_success resque init p &&
	grep -q "^encryption" "$RESQUE_HOME"/keys/*.key &&
	test "$(stat -c %a "$RESQUE_HOME/keys")" = 700
'

test_expect_success 'the command gets no RESQUE_PASSPHRASE, other variables pass' '
	cd p &&
	RESQUE_PASSPHRASE=s3cret RQ_OTHER=kept expect_success resque run --meter estimate -- sh -c "env >env.txt" &&
	grep -q "^RQ_OTHER=kept$" env.txt && grep -q "^RESQUE_EVENTS=" env.txt &&
	! grep -q RESQUE_PASSPHRASE env.txt && ! grep -q s3cret env.txt &&
	expect_success resque log --json &&
	test "$(json_get "$OUT" "d[0][\"type\"]")" = actual
'

test_expect_success 'a keys directory open to others is refused with the fix; nothing runs or is written' '
	cd p && keys="$RESQUE_HOME/keys" &&
	for mode in 755 770 701; do
		chmod $mode "$keys" && before=$(repo_state) && rm -f ran &&
		RESQUE_PASSPHRASE=s3cret expect_error 1 "run: chmod 700 $keys" resque run -- sh -c "echo x >ran" &&
		test ! -e ran && test "$(repo_state)" = "$before" || return 1
	done &&
	chmod 700 "$keys" &&
	RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate -- sh -c "echo x >ran" && test -e ran
'

test_expect_success 'a key file readable or writable by others is refused with the fix' '
	cd p && key=$(ls "$RESQUE_HOME"/keys/*.key) &&
	for mode in 644 640 620 602; do
		chmod $mode "$key" && before=$(repo_state) && rm -f ran &&
		RESQUE_PASSPHRASE=s3cret expect_error 1 "run: chmod 600 $key" resque run -- sh -c "echo x >ran" &&
		test ! -e ran && test "$(repo_state)" = "$before" &&
		RESQUE_PASSPHRASE=s3cret expect_error 1 "chmod 600" resque note -m x &&
		test "$(repo_state)" = "$before" || return 1
	done &&
	chmod 600 "$key" &&
	RESQUE_PASSPHRASE=s3cret expect_success resque note -m fixed
'

test_expect_success 'resque killed by SIGKILL: the command gets SIGTERM, its heartbeat stops' '
	cd p && rm -f hb &&
	cat >beat.sh <<-\SH &&
	while :; do date +%s%N >hb.tmp; mv hb.tmp hb; sleep 0.1; done
	SH
	{ RESQUE_PASSPHRASE=s3cret resque run --meter estimate -- sh beat.sh 2>run.err & } &&
	rpid=$! &&
	n=0 && while [ ! -f hb ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done &&
	{ test -f hb && a=$(cat hb) && sleep 0.5 && test "$(cat hb)" != "$a" &&
	  ls "$TMPDIR" | grep -q "^resque-events-$rpid-" || { kill -KILL $rpid; return 1; }; } &&
	kill -KILL $rpid; wait $rpid;
	sleep 2 && a=$(cat hb) && sleep 1 && test "$(cat hb)" = "$a" &&
	! pgrep -f "sh beat.sh" &&
	echo $rpid >../killed
'

test_expect_success 'the next run removes the events file the killed run left' '
	cd p && rpid=$(cat ../killed) &&
	ls "$TMPDIR" | grep -q "^resque-events-$rpid-" &&
	: >"$TMPDIR/resque-events-notapid-x" &&
	RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate -- true &&
	! ls "$TMPDIR" | grep -q "^resque-events-$rpid-" &&
	test -e "$TMPDIR/resque-events-notapid-x" &&
	test -z "$(ls "$TMPDIR" | grep "^resque-events-[0-9]")"
'

cat >daemon.sh <<'SH'
# daemonise out of the tree: setsid + double fork, burn CPU, record its own CPU time
grep "^0::" /proc/self/cgroup | cut -c4- >cgroup.txt
( setsid sh -c 'echo $$ >daemon.pid; i=0; while [ $i -lt ${2:-500000} ]; do i=$((i+1)); done; times >daemon.times; echo done >daemon.done' & )
sleep "${1:-3}"
SH
cat >times.py <<'PY'
import re, sys
print(sum(int(m) * 60 + float(x) for m, x in re.findall(r"(\d+)m([\d.]+)s", open(sys.argv[1]).read())))
PY

cgroup_ok=
if mkdir /sys/fs/cgroup/unified/resque-probe-$$ 2>/dev/null || mkdir /sys/fs/cgroup/resque-probe-$$ 2>/dev/null; then
	rmdir /sys/fs/cgroup/unified/resque-probe-$$ /sys/fs/cgroup/resque-probe-$$ 2>/dev/null
	cgroup_ok=1
fi

# the command ran in a cgroup of its own, which is removed afterwards
run_cgroup_gone() {
	cg=$(cat cgroup.txt) && case "$cg" in */resque-run-[0-9]*) ;; *) return 1 ;; esac &&
	test ! -e "/sys/fs/cgroup/unified$cg" && test ! -e "/sys/fs/cgroup$cg"
}

if [ -n "$cgroup_ok" ]; then
test_expect_success 'a daemonised child is metered through the cgroup (kernel CPU time as reference)' '
	cd p && rm -f daemon.times daemon.done &&
	RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate --interval 0.1 --json -- sh ../daemon.sh 4 &&
	test -f daemon.done && ref=$("$PY" ../times.py daemon.times) &&
	got=$(json_get "$OUT" "d[\"body\"][\"estimate\"][\"cpu_seconds\"]") &&
	"$PY" -c "import sys; g,r=float(sys.argv[1]),float(sys.argv[2]); sys.exit(not (r > 0.3 and g >= 0.9*r))" "$got" "$ref" &&
	! json_get "$OUT" "d[\"body\"][\"meter_notes\"]" | grep -q "not metered" &&
	run_cgroup_gone
'

test_expect_success 'a daemon that outlives the command: the record says so' '
	cd p && rm -f daemon.done &&
	RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate --json -- sh ../daemon.sh 0.2 2000000 &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" >notes.txt &&
	grep -q "1 process(es) of the command outlived it (daemons or orphans): metered until it ended, not after" notes.txt &&
	grep -q "outlived it" "$ERR" &&
	test ! -f daemon.done && kill "$(cat daemon.pid)" &&
	run_cgroup_gone
'

test_expect_success 'the empty cgroup of a killed run is removed by the next run' '
	cd p &&
	cg=$("$PY" -c "
mnt = [l.split()[4] for l in open(\"/proc/self/mountinfo\") if \" - cgroup2 \" in l and l.split()[3] == \"/\"][0]
path = [l[3:].strip() for l in open(\"/proc/self/cgroup\") if l.startswith(\"0::\")][0]
print(mnt + (path if path != \"/\" else \"\"))") &&
	dead=$(sh -c "echo \$\$") && ! kill -0 $dead 2>/dev/null &&
	mkdir "$cg/resque-run-$dead" &&
	RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate -- true &&
	test ! -e "$cg/resque-run-$dead"
'
else
test_skip 'a daemonised child is metered through the cgroup' 'no writable cgroup v2 here'
fi

test_expect_success 'without a cgroup the record says escaped processes are not metered' '
	cd p &&
	RESQUE_CGROUP=off RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate --json -- sh ../daemon.sh 1 100 &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" >notes.txt &&
	grep -q "no cgroup for the command (cgroups are turned off (RESQUE_CGROUP=off)): CPU time of processes that leave its process tree is not metered" notes.txt &&
	grep -q "no cgroup for the command" "$ERR"
'

test_expect_success 'an events file of 1,100,000 lines keeps the last epoch mark' '
	cd p &&
	cat >marks.py <<-\PY &&
	import os
	with open(os.environ["RESQUE_EVENTS"], "a") as f:
	    f.write("epoch\n" * 1100000)
	    f.write("epoch 1100005\n")
	PY
	RESQUE_PASSPHRASE=s3cret expect_success resque run --meter estimate --json -- "$PY" marks.py &&
	test "$(json_get "$OUT" "d[\"body\"][\"epochs\"]")" = 1100005 &&
	json_get "$OUT" "d[\"body\"][\"events_notes\"]" | grep -q "100001 epoch marks past the limit of 1000000 were merged into the last epoch" &&
	grep -q "warning: events: 100001 epoch marks" "$ERR"
'

test_done
