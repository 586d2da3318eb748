#!/bin/sh
# The guard's memory against the attacks and accidents a hostile review
# found: a writer's own entries rolled back with plain git (a key revoke
# among them), a copy behind the memory forking the ledger, a damaged
# memory, an index.db whose tables were altered.
. "$(dirname "$0")/lib.sh"
test_requires SQLITE3

KNOWN="$RESQUE_HOME/known"
git_() { git --git-dir=p/.resque "$@"; }

test_expect_success 'setup' '
	resque key gen >/dev/null && expect_success resque init p &&
	for m in one two three; do resque -C p note -m "$m" >/dev/null || return 1; done
'

test_expect_success 'a writer remembers what it appended: rolling it back with plain git is caught' '
	before=$(git_ rev-parse ledger) && resque -C p note -m four >/dev/null && after=$(git_ rev-parse ledger) &&
	git_ update-ref refs/heads/ledger "$before" && repo_state p >state.before &&
	expect_error 3 "ledger rolled back from 5 to 4 entries" resque -C p log &&
	expect_error 3 "ledger rolled back from 5 to 4 entries" resque -C p note -m five &&
	repo_state p >state.after && compare state.before state.after &&
	expect_failure 3 resque -C p verify && grep_out "ledger rolled back from 5 to 4 entries" &&
	git_ update-ref refs/heads/ledger "$after" && expect_success resque -C p log
'

test_expect_success 'a key revoke rolled back with plain git: the revoked key cannot come back' '
	RESQUE_HOME="$SCRATCH/bob" resque key gen >/dev/null && bob=$(ls "$SCRATCH"/bob/keys/*.pub) &&
	expect_success resque -C p key add "$bob" --name bob &&
	before=$(git_ rev-parse ledger) &&
	expect_success resque -C p key revoke "$(basename "$bob" .pub)" && revoked=$(git_ rev-parse ledger) &&
	git_ update-ref refs/heads/ledger "$before" &&
	RESQUE_HOME="$SCRATCH/bob" resque -C p note -m "after my revocation" >/dev/null 2>&1;
	expect_failure 3 resque -C p log && grep_err "rolled back|history rewritten" &&
	expect_failure 3 resque -C p verify &&
	git_ update-ref refs/heads/ledger "$revoked" && expect_success resque -C p log
'

test_expect_success 'a copy behind the memory cannot append a fork; the ledger it forks stays usable' '
	rm -rf behind && cp -r p behind && resque -C p note -m ahead >/dev/null &&
	repo_state behind >b.before &&
	expect_error 1 "appending here would fork it" resque -C behind note -m fork &&
	repo_state behind >b.after && compare b.before b.after &&
	expect_success resque -C behind log && expect_success resque -C p log && expect_success resque -C p verify
'

test_expect_success 'a damaged memory is made afresh from a full verification, said once' '
	id=$(ls "$KNOWN"/*.leaves | sed "s,.*/,,; s,\.leaves,,") &&
	: >"$KNOWN/$id.leaves" &&
	expect_success resque -C p log && grep_err "damaged" && grep_err "verifying the ledger first" &&
	expect_success resque -C p log && test ! -s "$ERR" &&
	expect_success resque -C p note -m after-damage && expect_success resque -C p verify &&
	echo "signer x" >>"$KNOWN/$id.state" &&
	expect_success resque -C p log && grep_err "damaged" && expect_success resque -C p verify &&
	: >"$KNOWN/$id.ids" && expect_success resque -C p log && expect_success resque -C p verify
'

test_expect_success 'an index.db whose tables were altered is rebuilt, never wedges a writer' '
	sqlite3 p/.resque/index.db "ALTER TABLE entries RENAME COLUMN entry TO entry2" &&
	expect_success resque -C p log && expect_success resque -C p note -m after-alter &&
	expect_success resque -C p reindex && expect_success resque -C p verify &&
	sqlite3 p/.resque/index.db "DROP TABLE merkle; CREATE TABLE merkle(x)" &&
	expect_success resque -C p checkpoint && expect_success resque -C p verify
'

test_expect_success 'leftovers of killed memory writes are cleaned by the next update' '
	dead=$(sh -c "echo \$\$") && : >"$KNOWN/leftover.state.tmp.$dead" &&
	touch -d "2 hours ago" "$KNOWN/old.names.tmp.999999999" &&
	expect_success resque -C p note -m cleanup &&
	test ! -e "$KNOWN/leftover.state.tmp.$dead" && test ! -e "$KNOWN/old.names.tmp.999999999"
'

test_done
