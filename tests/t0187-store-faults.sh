#!/bin/sh
# Failures inside store/ (issue 12 item 7): each libgit2, SQLite and system
# call the store makes to write or read the ledger, index.db and config is
# made to fail (the LD_PRELOAD shim build/helpers/rq-fail.so, RQ_FAIL_CALLS
# naming the call). The command must fail with the status of an I/O
# failure (1, never 3: nothing was found corrupt), say what failed, and
# leave the repository as it was (repo_state), verifying afterwards; a
# reader that can work from the ledger in memory does so and says why.
# The write-family faults on git's objects and refs and on index.db, and
# corrupt index.db files, are t0185's.
. "$(dirname "$0")/lib.sh"
test_requires FAULT_SHIM

SHIM="$RQ_BUILD/helpers/rq-fail.so"
# A preloaded library comes before a sanitizer's runtime: let it.
ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
export ASAN_OPTIONS

# failing CALLS PATH-FRAGMENT CMD...: CMD with CALLS (comma-separated) on
# subjects containing the fragment ("" for any) failing with EIO.
failing() {
	_calls=$1 _path=$2
	shift 2
	env LD_PRELOAD="$SHIM" RQ_FAIL_CALLS="$_calls" RQ_FAIL_PATH="$_path" RQ_FAIL_ERRNO="${ERRNO:-EIO}" "$@"
}

test_expect_success 'setup: a ledger of a few entries' '
	expect_success resque init p && cd p &&
	expect_success resque note -m one &&
	expect_success resque note -m two &&
	resque log --json >"$SCRATCH/log.ref" &&
	json_get "$SCRATCH/log.ref" "d[1][\"id\"][:12]" >"$SCRATCH/id" &&
	head -c 5000 /dev/urandom >data.bin
'

# ---- libgit2 calls of an append ----
for call in git_blob_create_from_buffer git_treebuilder_write git_commit_create; do
	test_expect_success "$call fails: the append fails saying so, the ledger is unchanged" '
		cd p && unchanged_after 1 "writing the entry to git: rq-fail: injected '"$call"' failure" \
			failing '"$call"' "" resque note -m lost &&
		test "$(grep -c . "$ERR")" = 1
	'
done

test_expect_success 'the ledger ref update fails: the append fails saying so, no lock is left' '
	cd p && unchanged_after 1 "updating the ledger branch: rq-fail: injected git_reference_create_matching failure" \
		failing git_reference_create_matching refs/heads/ledger resque note -m lost &&
	test ! -e .resque/refs/heads/ledger.lock &&
	expect_success resque note -m after && expect_success resque verify
'

test_expect_success 'opening the repository fails: every command says which, exit 1' '
	cd p &&
	for cmd in "log" "verify" "note -m lost" "show $(cat "$SCRATCH/id")"; do
		unchanged_after 1 "/p/.resque: rq-fail: injected git_repository_open_bare failure" \
			failing git_repository_open_bare "" resque $cmd || return 1
	done
'

# ---- system calls under libgit2 ----
# CALLS PATH 'message' for a write: what libgit2 does on the way.
while read -r calls path msg; do
	[ -n "$calls" ] || continue
	for e in EIO ENOSPC; do
		test_expect_success "$calls on $path fails ($e): the append fails, the ledger is unchanged" '
			cd p && ERRNO='"$e"' unchanged_after 1 "'"$msg"'" failing '"$calls $path"' resque note -m lost &&
			case '"$e"' in EIO) grep_err "Input/output error" ;; ENOSPC) grep_err "No space left on device" ;; esac &&
			test ! -e .resque/refs/heads/ledger.lock
		'
	done
done <<-\EOF
	open /objects/ writing the entry to git: failed to create temporary file
	mkdir /objects/ writing the entry to git: failed to make directory
	link,rename /objects/ writing the entry to git: failed to rename lockfile
	open refs/heads/ledger updating the ledger branch: failed to create locked file
	rename refs/heads/ledger updating the ledger branch: failed to rename lockfile
	open ledger.lock .resque/ledger.lock: 
EOF

test_expect_success 'the ledger cannot be read (its ref, its objects): exit 1 naming what, never 3' '
	cd p &&
	for cmd in "log" "verify" "note -m lost"; do
		unchanged_after 1 "reading the ledger branch: could not open" \
			failing open+ refs/heads/ledger resque $cmd &&
		unchanged_after 1 "reading the ledger branch: failed to read" \
			failing read refs/heads/ledger resque $cmd &&
		unchanged_after 1 "the ledger" failing open+ /objects/ resque $cmd &&
		grep_err "/objects/.*: Input/output error" || return 1
	done
'

test_expect_success 'the repository config cannot be read: a writer fails naming it, readers work' '
	cd p &&
	unchanged_after 1 "/.resque/config" failing open+ /.resque/config resque note -m lost &&
	resque log >"$SCRATCH/log.ref" &&
	failing open+ /.resque/config resque log >"$OUT" 2>"$ERR" && compare "$SCRATCH/log.ref" "$OUT"
'

# ---- the repository config ----
test_expect_success 'writing the config fails: config set fails naming the key, config unchanged' '
	cd p &&
	unchanged_after 1 "resque.region: rq-fail: injected git_config_set_string failure" \
		failing git_config_set_string "" resque config resque.region FR &&
	unchanged_after 1 "rq-fail: injected git_repository_config failure" \
		failing git_repository_config "" resque config resque.region FR &&
	unchanged_after 1 "/.resque/config" failing rename /.resque/config resque config resque.region FR &&
	expect_failure 1 resque config resque.region &&
	expect_success resque config resque.region FR && expect_success resque config resque.region &&
	grep_out "^FR$"
'

# ---- init ----
# CALLS PATH 'message': init fails, leaving neither .resque nor its
# temporary directory; a later init works.
while read -r calls path msg; do
	[ -n "$calls" ] || continue
	[ "$path" = - ] && path=
	test_expect_success "init with $calls failing on ${path:-anything}: nothing is left behind" '
		rm -rf q && mkdir q &&
		expect_error 1 "'"$msg"'" failing '"$calls"' "'"$path"'" resque init q &&
		test ! -e q/.resque && test -z "$(ls -A q)" &&
		expect_success resque init q && expect_success resque -C q verify
	'
done <<-\EOF
	git_repository_config - writing the repository's config: rq-fail: injected git_repository_config failure
	git_config_set_string - .resque: rq-fail: injected git_config_set_string failure
	git_blob_create_from_buffer - writing the entry to git: rq-fail: injected git_blob_create_from_buffer failure
	git_reference_create - updating the ledger branch: rq-fail: injected git_reference_create failure
	rename /q/.resque /q/.resque.tmp-
	open /q/.resque /q/.resque
EOF

# ---- index.db ----
test_expect_success 'index.db cannot be opened or read: readers from memory saying so, a writer refuses' '
	cd p && resque log --json >"$SCRATCH/log.ref" &&
	for f in "open+ index.db" "pread64 index.db"; do
		failing $f resque log --json >"$OUT" 2>"$ERR" && compare "$SCRATCH/log.ref" "$OUT" &&
		grep_err "^resque: warning: .*/index.db: .*: working from the ledger in memory$" &&
		failing $f resque verify >"$OUT" 2>"$ERR" && grep_out "^ok: " &&
		unchanged_after 1 "index.db" failing $f resque note -m lost || return 1
	done
'

# Every statement of index.db and the statcache, failing at prepare and at
# step, under a writer and three readers: never a crash nor exit 3 from a
# sound ledger; a failure says index.db and leaves the ledger unchanged;
# whatever ran, the ledger verifies afterwards.
test_expect_success 'every index.db statement failing at prepare or step: a clear refusal or a correct answer' '
	cd p && id=$(cat "$SCRATCH/id") && n=0 &&
	for sql in "PRAGMA user_version" "SELECT value FROM meta" "INSERT OR REPLACE INTO meta" \
		"INSERT OR REPLACE INTO merkle" "SELECT hash FROM merkle" "INSERT OR REPLACE INTO entries" \
		"SELECT seq, entry FROM entries" "SELECT entry FROM entries WHERE seq=0" "CREATE" "BEGIN" \
		"SELECT idx, hash FROM merkle" "statcache"; do
		for call in sqlite3_prepare_v2 sqlite3_step; do
			for cmd in "note -m swept" "log -n 2" "show $id" "fingerprint data.bin"; do
				repo_state >"$SCRATCH/state.before"
				failing $call "$sql" resque $cmd >"$OUT" 2>"$ERR"
				rc=$?
				if crashed $rc || grep -q -e Sanitizer -e "runtime error" "$ERR"; then
					say "$call \"$sql\" resque $cmd: crashed (exit $rc)"; cat "$ERR"; return 1
				fi
				case $rc in
				0) ;;
				1)
					grep_err "index.db" || { say "($call \"$sql\" resque $cmd)"; return 1; }
					repo_state >"$SCRATCH/state.after" &&
					compare "$SCRATCH/state.before" "$SCRATCH/state.after" || return 1
					n=$((n + 1))
					;;
				*) say "$call \"$sql\" resque $cmd: exit $rc"; cat "$ERR"; return 1 ;;
				esac
				resque verify >"$SCRATCH/verify.out" 2>&1 ||
					{ say "after $call \"$sql\" resque $cmd:"; cat "$SCRATCH/verify.out"; return 1; }
			done
		done
	done &&
	test $n -ge 12
'

test_expect_success 'index.db failing before the entry: the writer names the step and changes nothing; after it: the entry stands' '
	cd p &&
	unchanged_after 1 "index.db: reading the schema version: rq-fail: injected sqlite3_step failure" \
		failing sqlite3_step "PRAGMA user_version" resque note -m lost &&
	failing sqlite3_prepare_v2 "BEGIN" resque note -m kept >"$OUT" 2>"$ERR" &&
	grep_err "index.db: BEGIN IMMEDIATE: no such table: rq-fail: injected sqlite3_prepare_v2 failure; the entry is written, the next command rebuilds the index" &&
	expect_success resque log -n 1 && grep_out " kept$" && expect_success resque verify &&
	unchanged_after 1 "index.db: reading the tip: rq-fail: injected sqlite3_step failure" \
		failing sqlite3_step "SELECT value FROM meta" resque note -m lost
'

# ---- the key store and verify's memory (under RESQUE_HOME) ----
test_expect_success 'writing a new key fails: key gen fails naming the key file, the key store is unchanged' '
	for f in open write rename fsync; do
		ls -a "$RESQUE_HOME/keys" >"$SCRATCH/keys.before" &&
		expect_error 1 "/keys/" failing $f /keys/ resque key gen &&
		grep_err "Input/output error" &&
		ls -a "$RESQUE_HOME/keys" >"$SCRATCH/keys.after" &&
		compare "$SCRATCH/keys.before" "$SCRATCH/keys.after" || return 1
	done &&
	expect_success resque key gen
'

test_expect_success 'verify cannot write its memory: the command works and warns naming the file' '
	cd p &&
	for f in open write rename fsync; do
		failing $f /resque/known resque verify >"$OUT" 2>"$ERR" && grep_out "^ok: " &&
		grep_err "could not remember this ledger.s state: .*/resque/known.*: Input/output error" &&
		failing $f /resque/known resque note -m "unremembered $f" >"$OUT" 2>"$ERR" || return 1
	done &&
	expect_success resque verify && expect_success resque log -n 1 && grep_out "unremembered fsync"
'

test_expect_success 'verify cannot read its memory: it fails naming the file, exit 1' '
	cd p && unchanged_after 1 "/resque/known_ledgers: Input/output error" failing read /resque/known resque verify
'

# The Nth call of an append failing, for every N: the append either
# happened (exit 0) or changed nothing (exit 1); the ledger verifies.
test_expect_success 'an append with its Nth write, open, rename or fsync failing: all or nothing' '
	cd p && calls=open,write,pwrite,pwrite64,writev,rename,link,mkdir,unlink,fsync,fdatasync,ftruncate &&
	env LD_PRELOAD="$SHIM" RQ_FAIL_CALLS=$calls RQ_FAIL_PATH=/p/.resque RQ_FAIL_AFTER=1000000 RQ_FAIL_VERBOSE=1 \
		resque note -m counting >/dev/null 2>"$SCRATCH/count" &&
	total=$(sed -n "s/^rq-fail: \([0-9]*\) matching calls$/\1/p" "$SCRATCH/count") &&
	test "$total" -gt 10 && step=$(( (total + 24) / 25 )) && k=0 && ok=0 && refused=0 &&
	while [ $k -lt "$total" ]; do
		before=$(git --git-dir=.resque rev-parse ledger) && repo_state >"$SCRATCH/state.before"
		env LD_PRELOAD="$SHIM" RQ_FAIL_CALLS=$calls RQ_FAIL_PATH=/p/.resque RQ_FAIL_AFTER=$k \
			resque note -m "fault $k" >"$OUT" 2>"$ERR"
		rc=$?
		case $rc in
		0) test "$(git --git-dir=.resque rev-parse ledger^)" = "$before" || return 1; ok=$((ok + 1)) ;;
		1) repo_state >"$SCRATCH/state.after" && compare "$SCRATCH/state.before" "$SCRATCH/state.after" &&
			test -s "$ERR" || return 1
			refused=$((refused + 1)) ;;
		*) say "call $k of $total failing: exit $rc"; cat "$ERR"; return 1 ;;
		esac
		resque verify >"$SCRATCH/verify.out" 2>&1 ||
			{ say "after call $k of $total failed:"; cat "$SCRATCH/verify.out" "$ERR"; return 1; }
		k=$((k + step))
	done &&
	say "$total calls, $ok appended, $refused refused" && test $refused -gt 0 &&
	expect_success resque note -m "no faults" && expect_success resque verify
'

test_done
