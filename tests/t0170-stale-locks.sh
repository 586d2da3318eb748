#!/bin/sh
# No leftover of a killed process wedges a repository (issue 11, items 3
# and 11): git's lock of the ledger branch, libgit2's temporary objects, a
# killed init's directory and temporary files are cleaned by the next
# write; verify warns of a leftover lock; index.db read failures and
# integrity failures keep their error and exit status.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

# A pid that is not running: a child that has exited (its pid could be
# reused, but not within this test in practice).
dead_pid() {
	sh -c 'echo $$'
}

test_expect_success 'setup: a repository with two notes' '
	expect_success resque init p && cd p &&
	expect_success resque note -m one &&
	expect_success resque note -m two
'

test_expect_success 'a stale refs/heads/ledger.lock: verify warns (exit 0), the next write removes it' '
	cd p && cp .resque/refs/heads/ledger .resque/refs/heads/ledger.lock &&
	expect_success resque verify &&
	grep_out "^ok: 3 entries" &&
	grep_err "^warning: .*refs/heads/ledger.lock: a lock left by an interrupted write" &&
	expect_success resque verify --json &&
	grep_err "a lock left by an interrupted write" &&
	expect_success resque note -m three &&
	! test -e .resque/refs/heads/ledger.lock &&
	expect_success resque verify &&
	grep_out "^ok: 4 entries" &&
	! test -s "$ERR"
'

if command -v flock >/dev/null 2>&1; then
	test_expect_success 'verify does not warn of a ref lock while a writer holds the writers lock' '
		cd p && cp .resque/refs/heads/ledger .resque/refs/heads/ledger.lock &&
		flock .resque/ledger.lock resque verify >out 2>err &&
		grep "^ok: 4 entries" out && ! test -s err &&
		rm .resque/refs/heads/ledger.lock
	'
else
	test_skip 'verify does not warn of a ref lock while a writer holds the writers lock' 'flock(1) is not installed'
fi

if command -v strace >/dev/null 2>&1 &&
	strace -f -e inject=rename:signal=KILL -e trace=rename true >/dev/null 2>&1; then
	test_expect_success 'SIGKILL at the ref update (strace): nothing lost, the next write works' '
		cd p && before=$(git --git-dir=.resque rev-parse ledger) &&
		strace -f -e inject=rename:signal=KILL -e trace=rename resque note -m killed >/dev/null 2>&1
		test -e .resque/refs/heads/ledger.lock &&
		test "$(git --git-dir=.resque rev-parse ledger)" = "$before" &&
		expect_success resque verify && grep_out "^ok: 4 entries" &&
		grep_err "a lock left by an interrupted write" &&
		expect_success resque note -m after-kill &&
		! test -e .resque/refs/heads/ledger.lock &&
		expect_success resque verify && grep_out "^ok: 5 entries" &&
		expect_success resque log --type note --json &&
		test "$(json_get "$OUT" "\",\".join(e[\"summary\"] for e in d[:2])")" = "after-kill,three"
	'
	test_expect_success 'SIGKILL while writing objects (strace): the next write removes the temporary object' '
		cd p && before=$(git --git-dir=.resque rev-parse ledger) &&
		strace -f -e inject=link:signal=KILL:when=2 -e trace=link resque note -m killed >/dev/null 2>&1
		ls .resque/objects | grep "^tmp_object_git2_" &&
		test "$(git --git-dir=.resque rev-parse ledger)" = "$before" &&
		expect_success resque note -m after-kill-2 &&
		! ls .resque/objects | grep "^tmp_object_git2_" &&
		expect_success resque verify && grep_out "^ok: 6 entries"
	'
else
	test_skip 'SIGKILL at the ref update (strace)' 'strace with fault injection is not installed'
	test_skip 'SIGKILL while writing objects (strace)' 'strace with fault injection is not installed'
	# Keep the counts of the later cases the same.
	(cd p && resque note -m after-kill >/dev/null && resque note -m after-kill-2 >/dev/null)
fi

test_expect_success 'temporary objects, atomic-write files and init directories of dead processes are removed by the next write' '
	cd p && dead=$(dead_pid) &&
	mkdir -p .resque.tmp-$dead/objects .resque.tmp-$$ .resque.tmp-999999999x &&
	echo x >.resque/objects/tmp_object_git2_AbC123 &&
	echo x >.resque.tmp-$dead/objects/junk &&
	echo x >.resque/index.db.tmp.$dead &&
	echo x >.resque/index.db.tmp.$$ &&
	echo x >.resque/notes.txt &&
	expect_success resque note -m cleaned &&
	! test -e .resque/objects/tmp_object_git2_AbC123 &&
	! test -e .resque.tmp-$dead &&
	! test -e .resque/index.db.tmp.$dead &&
	test -d .resque.tmp-$$ && test -d .resque.tmp-999999999x &&
	test -e .resque/index.db.tmp.$$ && test -e .resque/notes.txt &&
	expect_success resque verify && grep_out "^ok: 7 entries"
'

test_expect_success 'an hour-old leftover goes even if its pid is alive (reused)' '
	cd p && touch -d "2 hours ago" .resque.tmp-$$ .resque/index.db.tmp.$$ &&
	expect_success resque note -m old &&
	! test -e .resque.tmp-$$ && ! test -e .resque/index.db.tmp.$$ &&
	test -d .resque.tmp-999999999x && rmdir .resque.tmp-999999999x
'

test_expect_success 'init removes a killed init directory beside its target' '
	dead=$(dead_pid) && mkdir -p q/.resque.tmp-$dead/refs &&
	expect_success resque init q &&
	! test -e q/.resque.tmp-$dead &&
	(cd q && expect_success resque verify)
'

test_expect_success 'index.db read failures keep their error (fault injection: rq-index-fault)' '
	cd p && expect_success resque log --json &&
	key=$(json_get "$OUT" "d[-1][\"signer\"]") &&
	tip=$(json_get "$OUT" "d[0][\"id\"][:8]") &&
	rq-index-fault .resque "$tip" "$key" >fault.out &&
	cat >fault.want <<-EOF &&
	lookup 0 ok
	signer 0 ok
	verify -5 1 integrity problem found
	problem index.db cannot be read: integer overflow
	EOF
	compare fault.want fault.out &&
	expect_success resque verify && grep_out "^ok: 8 entries"
'

# The commits of the newest entries of the types given are removed from
# the object store.
drop_commits() {
	git --git-dir=.resque log --format="%H %s" ledger >commits &&
	for t in "$@"; do
		c=$(awk -v t="$t" "\$3 == t { print \$1; exit }" commits) &&
		test -n "$c" &&
		rm .resque/objects/$(echo "$c" | cut -c1-2)/$(echo "$c" | cut -c3-) || return 1
	done
}

test_expect_success 'commit --actual and import --plan of a damaged entry: exit 3, not 1' '
	expect_success resque init r && cd r &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	printf "run_id,duration,emissions,energy_consumed\nr1,10,0.5,2.5\n" >e.csv &&
	expect_success resque import codecarbon e.csv --json &&
	actual=$(json_get "$OUT" "d[0][\"id\"]") &&
	echo "{\"from\": \"0000\", \"kind\": \"dist\", \"index\": 0.3, \"forecast\": {\"energy_kwh\": {\"mean\": 1, \"p10\": 0.5, \"p90\": 2, \"p2_5\": 0, \"p97_5\": 3}}}" >plan.json &&
	plan=$(rq-append .resque plan <plan.json) &&
	expect_success resque note -m tip &&
	drop_commits actual plan &&
	repo_state >before &&
	expect_failure 3 resque commit --weights w1.safetensors --name v1 --actual "$actual" &&
	grep_err "does not verify.*entry [12] |--actual $actual: ledger commit" &&
	printf "run_id,duration,emissions,energy_consumed\nr2,10,0.5,2.5\n" >e2.csv &&
	expect_failure 3 resque import codecarbon e2.csv --plan "$plan" &&
	grep_err "does not verify.*entry [12] |--plan $plan: ledger commit" &&
	repo_state >after && compare before after
'

test_done
