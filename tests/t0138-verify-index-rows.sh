#!/bin/sh
# verify compares every row of index.db's entries table with what reindex
# would write from the ledger; the rows are read on a thread of their own
# while the entries are checked (store/verify.c, iscan_*), and reported
# afterwards in index.db's order, after the entries' own problems. Each
# column, a row too many, a row missing and a row at a negative position
# are named; the ledger itself is left unchanged.
. "$(dirname "$0")/lib.sh"
test_lazy_prereq SQLITE3 'command -v sqlite3' 'the sqlite3 shell (apt-get install sqlite3)'
test_requires SQLITE3

I=proj/.resque/index.db
# edit SQL: index.db as after setup, then SQL run on it
edit() {
	cp idx.saved "$I" && rm -f "$I-wal" "$I-shm" && sqlite3 "$I" "$1"
}
# verify with no memory of an earlier verify, so that index.db is checked
# in full (a warm verify checks only the entries since)
verify() {
	rm -rf fresh && RESQUE_HOME=$PWD/fresh resque -C proj verify "$@"
}

test_expect_success 'setup: six entries, index.db kept aside' '
	expect_success resque init proj &&
	for i in 1 2 3 4 5; do expect_success resque -C proj note -m "note $i" || return 1; done &&
	expect_success resque -C proj verify && grep_out "^ok: 6 entries verified" &&
	cp "$I" idx.saved && git --git-dir=proj/.resque rev-parse ledger >tip.before
'

test_expect_success 'each column that disagrees is named, in the order of the rows' '
	edit "UPDATE entries SET summary=\"s\" WHERE seq=5; UPDATE entries SET id=\"x\" WHERE seq=1;
	      UPDATE entries SET type=\"x\" WHERE seq=2; UPDATE entries SET time=\"2020-01-01T00:00:00Z\" WHERE seq=3;
	      UPDATE entries SET commit_oid=upper(commit_oid) WHERE seq=0; UPDATE entries SET name=\"n\" WHERE seq=4" &&
	expect_failure 3 verify &&
	cat >expect <<-\EOF &&
	resque: verification failed: 6 problems
	index.db disagrees with the ledger about entry 0: its commit_oid (run
	index.db disagrees with the ledger about entry 1: its id (run
	index.db disagrees with the ledger about entry 2: its type (run
	index.db disagrees with the ledger about entry 3: its time (run
	index.db disagrees with the ledger about entry 4: its name (run
	index.db disagrees with the ledger about entry 5: its summary (run
	EOF
	cat "$ERR" "$OUT" | sed -e "s/^entry [0-9]* ([0-9a-f]*): //" -e "s/ .resque reindex.)$//" >got &&
	compare expect got
'

test_expect_success 'an entry column that is not the entry bytes' '
	edit "UPDATE entries SET entry=CAST(entry AS TEXT) WHERE seq=4; UPDATE entries SET entry=zeroblob(1) WHERE seq=5" &&
	expect_failure 3 verify &&
	grep_out "about entry 4: its entry" && grep_out "about entry 5: its entry"
'

test_expect_success 'rows too many, missing, or at a negative position' '
	edit "INSERT INTO entries SELECT seq+10, \"zz\" || id, commit_oid, type, time, signer, name, summary, entry FROM entries WHERE seq=2" &&
	expect_failure 3 verify && grep_out "index.db lists entry 12, which is not in the ledger" &&
	edit "DELETE FROM entries WHERE seq=3" &&
	expect_failure 3 verify && grep_out "index.db lacks 1 entries of the ledger" &&
	edit "UPDATE entries SET seq=-5 WHERE seq=2" &&
	expect_failure 3 verify && grep_out "index.db lists entry -5, which is not in the ledger" &&
	git --git-dir=proj/.resque rev-parse ledger >tip.after && compare tip.before tip.after
'

test_expect_success 'reindex puts it right' '
	expect_success resque -C proj reindex && expect_success verify && grep_out "^ok: 6 entries"
'

test_done
