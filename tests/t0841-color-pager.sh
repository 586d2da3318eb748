#!/bin/sh
# Colour and the pager (issue 17 item 1): colour for states only on a
# terminal, honouring NO_COLOR and --color=auto|always|never; log, report
# and show through RESQUE_PAGER, PAGER or `less -FRX` on a terminal only,
# --no-pager, waited for, and quitting it early is no error. The terminal
# is a pseudo-terminal (tests/helpers/rq-pty.c); the pager a script that
# records what it was given.
. "$(dirname "$0")/lib.sh"

test_lazy_prereq PTY 'rq-pty true' 'a pseudo-terminal (/dev/ptmx, devpts)'
test_requires PTY

ESC=$(printf "\033")
unset NO_COLOR PAGER RESQUE_PAGER LESS TERM
RQ_LIMIT=60 # a pager waiting for keys fails the case instead of hanging the suite

test_expect_success 'setup: a repository with an estimated actual, a fake pager' '
	expect_success resque init p && cd p &&
	expect_success resque run --meter estimate --region FR -- true &&
	expect_success resque note -m "a note" &&
	cat >"$SCRATCH/pager" <<-\EOF &&
	#!/bin/sh
	# records its input and what it was given, then says it ran
	printf "%s\n" "${LESS-unset}" >"$PAGER_LOG.less"
	cat >"$PAGER_LOG"
	echo "paged by the fake pager"
	EOF
	chmod +x "$SCRATCH/pager"
'

test_expect_success 'no colour and no pager when stdout is not a terminal' '
	cd p && PAGER_LOG=$SCRATCH/log0 RESQUE_PAGER=$SCRATCH/pager expect_success resque log &&
	! grep -q "$ESC" "$OUT" && test ! -e "$SCRATCH/log0" && grep_out "\(estimated\)$"
'

test_expect_success 'on a terminal: coloured states, through the pager with LESS=FRX' '
	cd p && PAGER_LOG=$SCRATCH/log1 RESQUE_PAGER=$SCRATCH/pager expect_success limited rq-pty resque log &&
	grep_out "^paged by the fake pager$" && ! grep -q "actual" "$OUT" &&
	test "$(cat "$SCRATCH/log1.less")" = FRX &&
	grep -q "${ESC}\[33mestimated${ESC}\[m" "$SCRATCH/log1" &&
	resque --color=always log >want && compare want "$SCRATCH/log1"
'

test_expect_success 'NO_COLOR (non-empty), --color=never and TERM=dumb turn colour off; NO_COLOR= does not' '
	cd p &&
	NO_COLOR=1 RESQUE_PAGER= expect_success limited rq-pty resque log && grep_out "estimated" && ! grep -q "$ESC" "$OUT" &&
	RESQUE_PAGER= expect_success limited rq-pty resque --color=never log && grep_out "estimated" && ! grep -q "$ESC" "$OUT" &&
	TERM=dumb RESQUE_PAGER= expect_success limited rq-pty resque log && ! grep -q "$ESC" "$OUT" &&
	NO_COLOR= RESQUE_PAGER= expect_success limited rq-pty resque log && grep -q "${ESC}\[33mestimated" "$OUT" &&
	NO_COLOR=1 expect_success resque --color=always log && grep -q "${ESC}\[33mestimated" "$OUT" &&
	expect_success resque --color log && grep -q "${ESC}\[33mestimated" "$OUT"
'

test_expect_success 'stderr is coloured for its own terminal only' '
	cd p &&
	expect_success limited rq-pty sh -c "resque run --meter estimate -- true 2>err.txt" && ! grep -q "$ESC" err.txt &&
	grep -q "^warning: run: no grid region" err.txt &&
	expect_success limited rq-pty sh -c "resque run --meter estimate -- true >/dev/null" &&
	grep -q "${ESC}\[33mwarning:${ESC}\[m run: no grid region" "$OUT" &&
	expect_success limited rq-pty resque --color=never verify && grep_out "^ok: " &&
	expect_success limited rq-pty resque verify && grep -q "^${ESC}\[32mok${ESC}\[m: " "$OUT"
'

test_expect_success 'RESQUE_PAGER, then PAGER; LESS kept when set; empty or cat: no pager' '
	cd p &&
	PAGER_LOG=$SCRATCH/log2 PAGER=$SCRATCH/pager LESS=-i expect_success limited rq-pty resque log -t note -n 1 &&
	grep_out "^paged by the fake pager$" && test "$(cat "$SCRATCH/log2.less")" = -i &&
	PAGER_LOG=$SCRATCH/log3 RESQUE_PAGER=cat PAGER=$SCRATCH/pager expect_success limited rq-pty resque log -t note -n 1 &&
	test ! -e "$SCRATCH/log3" && grep_out " a note$" &&
	PAGER_LOG=$SCRATCH/log4 RESQUE_PAGER= PAGER=$SCRATCH/pager expect_success limited rq-pty resque log -t note -n 1 &&
	test ! -e "$SCRATCH/log4" && grep_out " a note$" &&
	PAGER_LOG=$SCRATCH/log5 RESQUE_PAGER=$SCRATCH/pager expect_success limited rq-pty resque --no-pager log -t note -n 1 &&
	test ! -e "$SCRATCH/log5" && grep_out " a note$"
'

test_expect_success 'show and report go through the pager too; show --raw does not' '
	cd p && id=$(resque log -n 1 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	PAGER_LOG=$SCRATCH/log6 RESQUE_PAGER=$SCRATCH/pager expect_success limited rq-pty resque show "$id" &&
	grep_out "^paged by the fake pager$" && grep -q "^entry   $id$" "$SCRATCH/log6" &&
	PAGER_LOG=$SCRATCH/log7 RESQUE_PAGER=$SCRATCH/pager expect_success limited rq-pty resque report &&
	grep_out "^paged by the fake pager$" && grep -q "^resque report: repository" "$SCRATCH/log7" &&
	PAGER_LOG=$SCRATCH/log8 RESQUE_PAGER=$SCRATCH/pager expect_success limited rq-pty resque show "$id" --raw &&
	test ! -e "$SCRATCH/log8" &&
	PAGER_LOG=$SCRATCH/log9 RESQUE_PAGER=$SCRATCH/pager expect_success limited rq-pty resque report -o r.txt &&
	test ! -e "$SCRATCH/log9" && test -s r.txt
'

test_expect_success 'resque waits for the pager before it exits' '
	cd p && rm -f done.txt &&
	RESQUE_PAGER="cat >/dev/null; sleep 1; echo waited >done.txt" expect_success limited rq-pty \
		sh -c "resque log; test -f done.txt && echo pager-was-waited-for" &&
	grep_out "^pager-was-waited-for$"
'

test_expect_success 'quitting the pager early is no error (exit 0, nothing said)' '
	cd p && expect_success resque note -m "$(head -c 100000 /dev/zero | tr "\\0" x)" &&
	big=$(resque log -n 1 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	RESQUE_PAGER="head -c 5; echo" expect_success limited rq-pty sh -c "resque show $big; echo status=\$?" &&
	grep_out "^status=0$" && ! grep -q -i "error\|broken pipe" "$OUT" &&
	RESQUE_PAGER=true expect_success limited rq-pty sh -c "resque show $big; echo status=\$?" && grep_out "^status=0$" &&
	RESQUE_PAGER="head -c 5; echo" expect_success limited rq-pty sh -c "resque log; echo status=\$?" && grep_out "^status=0$"
'

test_expect_success 'a pager that cannot be run is named and the output printed' '
	cd p && RESQUE_PAGER="no-such-pager-here -x" expect_success limited rq-pty resque log -n 1 &&
	grep_out "warning:.* cannot run pager .no-such-pager-here.: not found in PATH; printing without a pager" &&
	grep_out " note +[0-9a-f]{8}  (a note|x+\.\.\.)$"
'

test_expect_success 'a pager starting with a shell builtin runs; a blank one means no pager' '
	cd p && RESQUE_PAGER="exec cat -A" expect_success limited rq-pty resque log -t note -n 1 &&
	grep -q " note .*[x.]\\\$" "$OUT" &&
	PAGER_LOG=$SCRATCH/log10 RESQUE_PAGER="  " PAGER=$SCRATCH/pager expect_success limited rq-pty resque log -t note -n 1 &&
	! test -e "$SCRATCH/log10" && grep_out " note .*x\.\.\.$" &&
	PAGER_LOG=$SCRATCH/log11 PAGER="	 " expect_success limited rq-pty resque log -t note -n 1 &&
	! test -e "$SCRATCH/log11" && grep_out " note .*x\.\.\.$"
'

test_expect_success 'a pager that sh cannot run (126, 127) is warned about, exit status 1' '
	cd p && mkdir -p "$SCRATCH/adir" &&
	RESQUE_PAGER="$SCRATCH/adir" expect_success limited rq-pty sh -c "resque log -n 1; echo status=\$?" &&
	grep_out "warning: the pager could not be run \(exit status 126 or 127\)" && grep_out "^status=1$" &&
	RESQUE_PAGER="\"no-such-pager-here\"" expect_success limited rq-pty sh -c "resque log -n 1; echo status=\$?" &&
	grep_out "warning: the pager could not be run" && grep_out "^status=1$"
'

test_expect_success 'a signal ignored by the caller (nohup, background jobs) stays ignored with a pager' '
	cd p && RESQUE_PAGER="cat >\"$SCRATCH/paged\"; sleep 1" expect_success limited rq-pty sh -c \
		"trap \"\" INT TERM; resque log & pid=\$!; sleep 0.5; kill -INT \$pid; kill -TERM \$pid; wait \$pid; echo status=\$?" &&
	grep_out "^status=0$" && grep -q " note " "$SCRATCH/paged"
'

test_expect_success 'the default pager is less -FRX (when less is installed)' '
	if command -v less >/dev/null 2>&1; then
		cd p && TERM=xterm RQ_LIMIT=30 expect_success limited rq-pty resque log -n 1 &&
		grep_out "[0-9a-f]{12} +[0-9]+ "
	fi
'

test_expect_success 'a bad --color is a usage error and changes nothing' '
	cd p && repo_state >before &&
	expect_error 2 "--color must be auto, always or never, not '"'"'bogus'"'"'" resque --color=bogus log &&
	expect_error 2 "--color must be auto" resque --color= log &&
	repo_state >after && compare before after &&
	expect_success resque --help && grep_out "\[--color\[=WHEN\]\] \[--no-pager\]"
'

test_done
