#!/bin/sh
# resque run on a terminal (issue 17 item 2): one live stderr line redrawn
# in place (elapsed time, energy so far, epochs marked), only when stderr
# is a terminal, erased before the record's line; --quiet drops the meter's
# notices and the live line, keeps warnings and the record's line.
. "$(dirname "$0")/lib.sh"

test_lazy_prereq PTY 'rq-pty true' 'a pseudo-terminal (/dev/ptmx, devpts)'

ESC=$(printf "\033")
CR=$(printf "\r")
unset NO_COLOR TERM

test_expect_success 'setup: a repository' '
	expect_success resque init p
'

test_expect_success PTY 'on a terminal: the live line with epochs marked, erased at the end' '
	cd p && RQ_LIMIT=60 expect_success limited env TERM=xterm rq-pty resque run --meter estimate --region FR --interval 0.02 -- \
		sh -c "resque mark epoch; resque mark epoch; sleep 1" &&
	grep -q "${CR}${ESC}\[Kresque: 0:00:0[0-9] elapsed, [0-9.e+-]* kWh so far, 2 epochs marked" "$OUT" &&
	grep -q "epochs marked${CR}${ESC}\[Krecorded actual [0-9a-f]*: " "$OUT" &&
	test "$(grep -c "recorded actual" "$OUT")" = 1
'

test_expect_success PTY 'no live line with TERM unset, empty or dumb' '
	cd p && for t in unset "" dumb; do
		if [ "$t" = unset ]; then
			RQ_LIMIT=60 expect_success limited rq-pty resque run --meter estimate --region FR --interval 0.02 -- \
				sh -c "resque mark epoch; sleep 0.5" || return 1
		else
			RQ_LIMIT=60 expect_success limited env TERM="$t" rq-pty resque run --meter estimate --region FR \
				--interval 0.02 -- sh -c "resque mark epoch; sleep 0.5" || return 1
		fi
		! grep -q "elapsed" "$OUT" && ! grep -q "$ESC" "$OUT" && grep_out "recorded actual " || return 1
	done
'

test_expect_success PTY 'no live line when resque is not in the terminal'"'"'s foreground process group' '
	cd p && RQ_LIMIT=60 expect_success limited env TERM=xterm rq-pty "$PY" -c "
import os, subprocess, sys
p = subprocess.run([\"resque\", \"run\", \"--meter\", \"estimate\", \"--region\", \"FR\", \"--interval\", \"0.02\",
    \"--\", \"sh\", \"-c\", \"resque mark epoch; sleep 0.5\"], preexec_fn=os.setpgrp)
sys.exit(p.returncode)" &&
	! grep -q "elapsed" "$OUT" && grep_out "recorded actual " &&
	RQ_LIMIT=60 expect_success limited env TERM=xterm rq-pty "$PY" -c "
import subprocess, sys
p = subprocess.run([\"resque\", \"run\", \"--meter\", \"estimate\", \"--region\", \"FR\", \"--interval\", \"0.02\",
    \"--\", \"sh\", \"-c\", \"resque mark epoch; sleep 0.5\"])
sys.exit(p.returncode)" &&
	grep_out "elapsed"
'

test_expect_success PTY 'no live line when stderr is not a terminal (stdout being one)' '
	cd p && RQ_LIMIT=60 expect_success limited rq-pty sh -c \
		"resque run --meter estimate --interval 0.02 -- sh -c \"resque mark epoch; sleep 1\" 2>err.txt" &&
	! grep -q "elapsed" err.txt && ! grep -q "$ESC" err.txt && grep -q "^recorded actual " err.txt
'

test_expect_success 'without --quiet: the meter notices are said (not on a terminal: no live line)' '
	cd p && expect_success resque run --meter estimate --interval 0.02 -- sh -c "resque mark epoch; sleep 0.2" &&
	grep_err "^resque: energy is estimated from CPU time, not measured$" && grep_err "^resque: estimate: CPU time x " &&
	! grep -q "elapsed" "$ERR"
'

test_expect_success '--quiet: no notices, the warning and the record stay; the record keeps its notes' '
	cd p && expect_success resque run --quiet --meter estimate --json -- true &&
	! grep -q "^resque: " "$ERR" && grep_err "^warning: run: no grid region" && grep_err "^recorded actual " &&
	test "$(json_get "$OUT" "d[\"method\"]")" = estimated &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" | grep -q "^estimate: CPU time x " &&
	expect_success resque run -q --meter estimate --region FR -- true &&
	! grep -q "^resque: \|^warning: " "$ERR" && grep_err "^recorded actual "
'

test_expect_success PTY '--quiet on a terminal: no live line either' '
	cd p && RQ_LIMIT=60 expect_success limited rq-pty resque run --quiet --meter estimate --region FR --interval 0.02 -- \
		sh -c "resque mark epoch; sleep 0.5" &&
	! grep -q "elapsed" "$OUT" && ! grep -q "estimated from CPU time" "$OUT" && grep_out "recorded actual "
'

test_expect_success 'a failing command still says why with --quiet; a bad option is refused' '
	cd p && repo_state >before &&
	expect_failure 3 resque run --quiet --meter estimate --region FR -- sh -c "exit 3" &&
	grep_err "^resque: sh exited with status 3; recorded as failed$" &&
	expect_failure 2 resque run --quiet=yes -- true && repo_state >mid &&
	expect_failure 2 resque run --quiet && grep_err "missing -- COMMAND" &&
	repo_state >after && compare mid after
'

test_done
