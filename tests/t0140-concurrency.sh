#!/bin/sh
# Concurrent writers are serialised: two processes appending 100 notes
# each leave exactly 200 notes and a ledger that verifies; readers running
# beside them never fail.
. "$(dirname "$0")/lib.sh"

test_expect_success 'two writers, 100 notes each' '
	expect_success resque init p && cd p || return 1
	( for i in $(seq 1 100); do resque note -m "a$i" >/dev/null || echo "a$i failed"; done ) >fail-a 2>&1 &
	( for i in $(seq 1 100); do resque note -m "b$i" >/dev/null || echo "b$i failed"; done ) >fail-b 2>&1 &
	# readers beside them: a snapshot older than what a writer just
	# remembered is no rollback
	( for i in $(seq 1 50); do resque log -n 1 >/dev/null || echo "log $i failed"; done ) >fail-c 2>&1 &
	wait

	for f in fail-a fail-b fail-c; do
		if test -s $f; then sed "s/^/  $f: /" $f >&2; return 1; fi
	done &&
	expect_success resque log --type note --json &&
	test "$(json_get "$OUT" "len(d)")" = 200 &&
	test "$(json_get "$OUT" "len(set(e[\"summary\"] for e in d))")" = 200 &&
	test "$(json_get "$OUT" "sorted(e[\"seq\"] for e in d) == list(range(1, 201))")" = True &&
	test "$(git --git-dir=.resque rev-list --count ledger)" = 201 &&
	expect_success resque verify && grep_out "^ok: 201 entries"
'

test_done
