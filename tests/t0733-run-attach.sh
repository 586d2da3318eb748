#!/bin/sh
# resque run --attach PID: metering a process that is already running (not
# resque's child) until it exits or resque gets SIGTERM/SIGINT; the actual's
# status from how it ended and from `status failed|succeeded` event lines;
# --events FILE; --json; bad input leaves the ledger alone.
. "$(dirname "$0")/lib.sh"

# wait_for TEXT FILE: until FILE holds TEXT (10 s at most).
wait_for() {
	_i=0
	while ! grep -q -F -e "$1" "$2" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -gt 200 ]; then
			say "no '$1' in $2 after 10 s:"
			sed 's/^/  /' "$2" >&2
			return 1
		fi
		sleep 0.05
	done
}

# wait_file FILE: until FILE exists (10 s at most).
wait_file() {
	_i=0
	while [ ! -e "$1" ]; do
		_i=$((_i + 1))
		[ "$_i" -le 200 ] || { say "no $1 after 10 s"; return 1; }
		sleep 0.05
	done
}

# attach_bg ARGS...: resque run --attach "$P" ARGS... in the background,
# stdout in att.out, stderr in att.err, its pid in RP; returns once it said
# it is attached.
attach_bg() {
	resque run --attach "$P" --meter estimate --cpu-watts 10 --interval 0.05 --json "$@" >att.out 2>att.err &
	RP=$!
	wait_for "resque: attached to PID $P" att.err
}

# stop_resque SIGNAL: send it to resque and wait; its exit status in RRC.
stop_resque() {
	kill -s "$1" "$RP" && wait "$RP"
	RRC=$?
	[ "$RRC" -eq 0 ] || { say "resque exited $RRC"; sed 's/^/  stderr: /' att.err >&2; return 1; }
}

# reap: end the workload P (if still running) and forget it.
reap() {
	kill "$P" 2>/dev/null
	wait "$P" 2>/dev/null
	P=""
	return 0
}

# Background workloads never outlive the script.
P=""
test_at_end '[ -n "$P" ] && kill "$P" 2>/dev/null'

test_expect_success 'setup: a repository and a CPU-busy workload' '
	expect_success resque init p &&
	cat >p/spin.sh <<-\SH
	i=0; while [ $i -lt ${1:-100000} ]; do i=$((i+1)); done
	SH
'

test_expect_success 'SIGTERM ends the watch: recorded as succeeded, with the events of --events' '
	cd p && rm -f go spun || return 1
	sh -c "sh spin.sh; touch spun; while [ ! -f go ]; do sleep 0.05; done; sh spin.sh; touch done2; sleep 30" &
	P=$! &&
	wait_file spun && rm -f ev.txt done2 &&
	attach_bg --events ev.txt --name attached-1 &&
	touch go && printf "epoch 1\nmetric loss 0.5\n" >>ev.txt &&
	wait_file done2 && printf "epoch\nmetric loss 0.25\n" >>ev.txt && sleep 0.2 &&
	stop_resque TERM &&
	test "$(grep -c "attached to PID" att.err)" = 1 &&
	test "$(grep -c -x "resque: attached to PID $P" att.err)" = 1 &&
	test "$(json_get att.out "d[\"body\"][\"attached_pid\"]")" = "$P" &&
	reap &&
	grep -q "recorded actual" att.err &&
	"$PY" - att.out <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	b = d["body"]
	assert d["type"] == "actual" and d["status"] == "succeeded" and d["epochs"] == 2, d
	assert d["exit_status"] is None and "exit_status" not in b and "command" not in b, d
	assert b["attached_pid"] > 0 and b["name"] == "attached-1", b
	assert b["metrics"] == {"loss": [0.5, 0.25]}, b
	assert len(b["epoch_energy_kwh"]) == 2 and d["method"] == "estimated", b
	est = b["estimate"]
	# the tree is metered: the second spin.sh, a child started after
	# attaching; the first one, before attaching, is not counted
	assert 0.02 < est["cpu_seconds"], est
	assert "no getrusage(RUSAGE_CHILDREN)" in b["meter_notes"], b
	PY
'

test_expect_success 'the CPU time a process had before resque attached is not counted' '
	cd p && rm -f spun || return 1
	sh -c ". ./spin.sh 200000; touch spun; sleep 30" &
	P=$! &&
	wait_file spun &&
	# the process itself has used CPU time (utime + stime, in ticks)
	ticks=$(sed "s/.*) //" /proc/$P/stat | cut -d" " -f12,13 | tr " " +) &&
	test $(($ticks)) -ge $(($(getconf CLK_TCK) / 10)) &&
	attach_bg && sleep 0.3 && stop_resque INT &&
	reap &&
	"$PY" - att.out <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert d["status"] == "succeeded", d  # SIGINT too is "told to stop"
	assert d["body"]["estimate"]["cpu_seconds"] < 0.05, d["body"]["estimate"]
	PY
'

test_expect_success '--json prints the actual as resque show --json does' '
	cd p && id=$(json_get att.out "d[\"id\"]") &&
	expect_success resque show "$id" --json &&
	"$PY" - att.out "$OUT" <<-\PY
	import json, sys
	a, s = (json.load(open(p)) for p in sys.argv[1:])
	for k in ("id", "energy_kwh", "carbon_kg", "duration_s", "method", "meter", "exit_status",
	          "epochs", "plan", "inside_p80", "status", "name", "target"):
	    assert a[k] == s[k], (k, a[k], s[k])
	assert a["body"] == s["body"]
	PY
'

test_expect_success 'PID exits first (a crash): recorded as failed, resque exits 0' '
	cd p || return 1
	sh -c "sleep 1; sh spin.sh 1000; exit 3" &
	P=$! &&
	RQ_LIMIT=30 expect_success limited resque run --attach "$P" --meter estimate --cpu-watts 10 --interval 0.05 --json &&
	reap &&
	grep -q "^resque: attached to PID" "$ERR" &&
	grep -q -F "PID" "$ERR" && grep_err "exited before resque was told to stop; recorded as failed" &&
	test "$(json_get "$OUT" "d[\"status\"]")" = failed &&
	test "$(json_get "$OUT" "d[\"exit_status\"]")" = None
'

test_expect_success 'an --events FIFO with no writer neither blocks the run nor loses its actual' '
	cd p || return 1
	rm -f fifo && mkfifo fifo &&
	sleep 1 &
	P=$! &&
	RQ_LIMIT=30 expect_success limited resque run --attach "$P" --events fifo --meter estimate --cpu-watts 10 \
		--interval 0.05 --json &&
	reap &&
	grep_err "fifo: not a regular file" &&
	test "$(json_get "$OUT" "d[\"status\"]")" = failed
'

test_expect_success 'a `status succeeded` line does not hide a crash' '
	cd p || return 1
	sh -c "sleep 1; echo status succeeded >>ev2.txt; exit 1" &
	P=$! &&
	RQ_LIMIT=30 expect_success limited resque run --attach "$P" --events ev2.txt --meter estimate --cpu-watts 10 --interval 0.05 --json &&
	reap &&
	test "$(json_get "$OUT" "d[\"status\"]")" = failed
'

test_expect_success 'told to stop, but the events said `status failed`: recorded as failed' '
	cd p && rm -f ev3.txt || return 1
	sh -c "sleep 1; echo status failed >>ev3.txt; sleep 30" &
	P=$! &&
	attach_bg --events ev3.txt &&
	wait_for "status failed" ev3.txt && sleep 0.2 &&
	stop_resque TERM &&
	reap &&
	grep -q -F "the events said '"'"'status failed'"'"'; recorded as failed" att.err &&
	test "$(json_get att.out "d[\"status\"]")" = failed
'

test_expect_success 'the last status line wins' '
	cd p && rm -f ev4.txt && printf "status failed\nstatus succeeded\n" >ev4.txt || return 1
	sh -c "sleep 30" &
	P=$! &&
	attach_bg --events ev4.txt && stop_resque TERM &&
	reap &&
	test "$(json_get att.out "d[\"status\"]")" = succeeded
'

test_expect_success 'a command run: `resque mark status failed` records it as failed' '
	cd p && expect_success resque run --meter estimate --cpu-watts 10 --json -- \
		sh -c "resque mark status succeeded && resque mark status failed" &&
	test "$(json_get "$OUT" "d[\"status\"]")" = failed &&
	test "$(json_get "$OUT" "d[\"exit_status\"]")" = 0 &&
	grep_err "the events said .status failed.; recorded as failed" &&
	expect_success resque run --meter estimate --cpu-watts 10 --json -- \
		sh -c "resque mark status failed; resque mark status succeeded" &&
	test "$(json_get "$OUT" "d[\"status\"]")" = succeeded
'

test_expect_success 'resque mark status refuses another word, and needs RESQUE_EVENTS' '
	cd p && : >ev5.txt &&
	RESQUE_EVENTS=$PWD/ev5.txt expect_error 1 "mark status: '"'"'Failed'"'"' is neither '"'"'failed'"'"' nor '"'"'succeeded'"'"'" \
		resque mark status Failed &&
	! test -s ev5.txt &&
	expect_error 1 "RESQUE_EVENTS is not set" resque mark status failed &&
	RESQUE_EVENTS=$PWD/ev5.txt expect_success resque mark status failed &&
	test "$(cat ev5.txt)" = "status failed"
'

# rejected: STATUS MESSAGE ARGS... of resque run; the ledger is unchanged
rejected() {
	resque log --json >"$SCRATCH/log.before" 2>&1 &&
	expect_error "$@" &&
	resque log --json >"$SCRATCH/log.after" 2>&1 &&
	compare "$SCRATCH/log.before" "$SCRATCH/log.after"
}

test_expect_success 'bad input: usage errors and a missing PID, the ledger unchanged' '
	cd p || return 1
	sh -c "sleep 30" &
	P=$! &&
	rejected 2 "resque run: --attach PID meters a running process: no command after it (got '"'"'true'"'"')" \
		resque run --attach "$P" -- true &&
	rejected 2 "resque run: --attach takes a process id (a whole number above 0), not '"'"'abc'"'"'" \
		resque run --attach abc &&
	rejected 2 "not '"'"'-5'"'"'" resque run --attach -5 &&
	rejected 2 "not '"'"'12x'"'"'" resque run --attach 12x &&
	rejected 2 "resque run: --events is for --attach (a command finds its events file in RESQUE_EVENTS)" \
		resque run --events ev.txt -- true &&
	rejected 2 "missing -- COMMAND... (or --attach PID)" resque run --meter estimate &&
	none=$(cat /proc/sys/kernel/pid_max) &&
	rejected 1 "resque: no process PID $none" resque run --attach "$none" --json &&
	! test -s "$OUT" &&
	reap
'

test_expect_success 'resque run --help documents --attach and --events' '
	expect_success resque run --help &&
	grep_out "--attach PID" && grep_out "--events FILE" && grep_out "resque: attached"
'

test_done
