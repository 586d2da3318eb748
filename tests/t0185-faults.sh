#!/bin/sh
# Fault injection on the libgit2 and SQLite paths (issue 11 item 10): a
# corrupt index.db (random bytes, truncated, empty, a directory in its
# place, a garbage WAL), a ledger lock held by another process, and EIO or
# ENOSPC on the writes to git's objects and refs and to index.db (through
# the LD_PRELOAD shim build/helpers/rq-fail.so). Each must say what failed,
# leave the ledger as it was (repo_state) unless the entry was written, and
# leave a repository that verifies. The read-only and full disks of a real
# mount are t0180's.
. "$(dirname "$0")/lib.sh"

SHIM="$RQ_BUILD/helpers/rq-fail.so"
# A preloaded library comes before a sanitizer's runtime: let it.
ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
export ASAN_OPTIONS

# faulty PATH-FRAGMENT ERRNO [AFTER] CMD...: CMD with writes to files whose
# path contains the fragment failing with ERRNO (after AFTER such writes).
faulty() {
	_path=$1 _errno=$2 _after=$3
	shift 3
	env LD_PRELOAD="$SHIM" RQ_FAIL_PATH="$_path" RQ_FAIL_ERRNO="$_errno" RQ_FAIL_AFTER="$_after" "$@"
}

test_expect_success 'setup: a ledger of a few entries, its log as reference' '
	expect_success resque init p && cd p &&
	expect_success resque note -m one &&
	expect_success resque note -m two &&
	expect_success resque note -m three &&
	resque log --json >"$SCRATCH/log.ref" &&
	id=$(json_get "$SCRATCH/log.ref" "d[1][\"id\"][:12]") && echo "$id" >"$SCRATCH/id" &&
	resque show "$id" --json >"$SCRATCH/show.ref"
'

# corrupt HOW: damage index.db (and its WAL) as HOW says.
corrupt() {
	_db=.resque/index.db
	case "$1" in
	random) rm -f "$_db-wal" "$_db-shm" && head -c 40000 /dev/urandom >"$_db" ;;
	truncated) rm -f "$_db-wal" "$_db-shm" && head -c 3000 "$_db" >"$_db.t" && mv "$_db.t" "$_db" ;;
	empty) rm -f "$_db-wal" "$_db-shm" && : >"$_db" ;;
	pages) rm -f "$_db-wal" "$_db-shm" &&
		head -c 8000 /dev/urandom | dd of="$_db" bs=1 seek=100 conv=notrunc 2>/dev/null ;;
	wal) head -c 9000 /dev/urandom >"$_db-wal" ;;
	directory) rm -f "$_db" "$_db-wal" "$_db-shm" && mkdir "$_db" ;;
	esac
}

for how in random truncated empty pages wal; do
	test_expect_success "index.db $how: every reader gives the ledger's answer, verify is clean, a write works" '
		cd p && resque reindex >/dev/null && resque log --json >"$SCRATCH/log.ref" &&
		corrupt '"$how"' &&
		expect_success resque log --json && compare "$SCRATCH/log.ref" "$OUT" &&
		expect_success resque show "$(cat "$SCRATCH/id")" --json && compare "$SCRATCH/show.ref" "$OUT" &&
		expect_success resque verify && grep_out "^ok: " &&
		expect_success resque note -m "after '"$how"'" &&
		expect_success resque verify &&
		resque log --json >"$SCRATCH/log.ref"
	'
done

test_expect_success 'index.db is a directory: readers work from memory and say so, a writer refuses naming it' '
	cd p && resque log --json >"$SCRATCH/log.ref" &&
	corrupt directory &&
	expect_success resque log --json && compare "$SCRATCH/log.ref" "$OUT" &&
	grep_err "index.db.*working from the ledger in memory" &&
	test "$(grep -c warning "$ERR")" = 1 &&
	expect_success resque show "$(cat "$SCRATCH/id")" --json && compare "$SCRATCH/show.ref" "$OUT" &&
	expect_success resque verify && grep_out "^ok: " &&
	unchanged_after 1 "index.db" resque note -m refused &&
	rmdir .resque/index.db &&
	expect_success resque note -m "index back" && expect_success resque verify
'

if command -v flock >/dev/null 2>&1; then
	test_expect_success 'a ledger lock held past the wait: the writer fails naming the lock, nothing changes' '
		cd p || return 1
		rm -f "$SCRATCH/held"
		flock -x .resque/ledger.lock sh -c "touch \"$SCRATCH/held\"; sleep 14" &
		holder=$!
		i=0
		while [ ! -e "$SCRATCH/held" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		start=$(date +%s) &&
		unchanged_after 1 "ledger.lock: another resque process has been writing for 10 s" \
			timeout 30 resque note -m blocked &&
		took=$(($(date +%s) - start)) &&
		test "$took" -ge 9 && test "$took" -le 20 &&
		# readers do not take the lock
		expect_success timeout 5 resque log -n 1
		rc=$?
		wait "$holder" # the lock goes with the holder (never left behind)
		[ $rc -eq 0 ] && expect_success resque note -m "after the lock" && expect_success resque verify
	'
else
	test_skip 'a ledger lock held past the wait' 'flock(1) is not installed'
fi

if [ -e "$SHIM" ]; then
	for e in EIO ENOSPC; do
		msg=$(case $e in EIO) echo "Input/output error" ;; ENOSPC) echo "No space left on device" ;; esac)
		test_expect_success "$e writing git objects: the write fails saying so, the ledger is unchanged" '
			cd p && unchanged_after 1 "writing the entry to git: failed to write out file: '"$msg"'" \
				faulty /objects/ '"$e"' 0 resque note -m lost &&
			# a later object of the same entry
			unchanged_after 1 "writing the entry to git" faulty /objects/ '"$e"' 2 resque note -m lost
		'
		test_expect_success "$e writing the ledger ref: the write fails saying so, the ledger is unchanged" '
			cd p && unchanged_after 1 "updating the ledger branch" \
				faulty /refs/heads/ '"$e"' 0 resque note -m lost &&
			grep_err "'"$msg"'" &&
			test ! -e .resque/refs/heads/ledger.lock
		'
		test_expect_success "$e opening index.db for a write: refused naming index.db, nothing changes" '
			cd p && unchanged_after 1 "index.db" faulty index.db '"$e"' 0 resque note -m lost &&
			grep_err "index.db: .*(disk I/O error|database or disk is full)"
		'
		test_expect_success "$e writing index.db after the entry: the entry stands, the index is rebuilt" '
			cd p && before=$(git --git-dir=.resque rev-parse ledger) &&
			faulty index.db '"$e"' 8 resque note -m "index behind" >"$OUT" 2>"$ERR" &&
			test "$(git --git-dir=.resque rev-parse ledger^)" = "$before" &&
			expect_success resque log -n 1 && grep_out "index behind" &&
			expect_success resque verify
		'
		test_expect_success "$e on every index.db write: readers work from memory, verify is clean" '
			cd p && faulty index.db '"$e"' 0 resque verify >"$OUT" 2>"$ERR" &&
			grep_out "^ok: " && grep_err "index.db.*working from the ledger in memory" &&
			faulty index.db '"$e"' 0 resque log -n 2 >"$OUT" 2>"$ERR" && grep_out "index behind"
		'
	done
	test_expect_success 'the shim is effective (a write through it without faults works)' '
		cd p && expect_success faulty /nothing-matches/ EIO 0 resque note -m "through the shim" &&
		expect_success resque verify
	'
else
	test_skip 'EIO and ENOSPC on git and SQLite writes' "$SHIM is not built"
fi

test_done
