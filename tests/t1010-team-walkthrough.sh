#!/bin/sh
# docs/SYNC.md's team walk-through (issue 13 item 7), run as it is written:
# the ```sh block after the line <!-- walkthrough --> is extracted and run
# with sh -e in this scratch directory (HOME is the scratch home, where the
# block makes its bare remote), then its outcome is checked independently of
# what it printed: the remote and both clones hold the same entries, read
# with plain git; verify passes in both; pull/push --json keep the contract.
# The same block with its `pull --rebase` lines turned into `pull` must fail,
# which shows that a wrong line in the doc fails this test.
. "$(dirname "$0")/lib.sh"
test_requires GIT PYTHON3

DOC=$RQ_ROOT/docs/SYNC.md
# Where the walk-through puts things (under $HOME, as it says).
REMOTE=$HOME/shared/detector-ledger.git
A=$HOME/alice/detector
B=$HOME/bob/detector
AKEYS=$HOME/alice-keys
BKEYS=$HOME/bob-keys

RQ_LIMIT=300

# The one ```sh block that follows the marker line.
extract() {
	awk '
		/^<!-- walkthrough -->$/ { marker++; want = 1; next }
		want == 1 && /^```sh$/ { want = 2; next }
		want == 1 && !/^$/ { want = 0 }
		want == 2 && /^```$/ { want = 3; next }
		want == 2 { print }
		END { if (marker != 1 || want != 3) exit 1 }
	' "$1"
}

# entry_field DIR REV EXPR: a field of the entry in commit REV of the bare
# repository DIR, read with plain git (no resque), EXPR on the parsed `d`.
entry_field() {
	git --git-dir="$1" show "$2:entry" >"$SCRATCH/entry.json" &&
	json_get "$SCRATCH/entry.json" "$3"
}

# entry_id DIR REV: that entry's id, the SHA-256 of its bytes (docs/FORMATS.md).
entry_id() {
	git --git-dir="$1" show "$2:entry" >"$SCRATCH/entry.bytes" &&
	sha256sum "$SCRATCH/entry.bytes" | cut -d" " -f1
}

key_id() { # KEYSTORE: the id of its only key
	set -- "$1"/keys/*.key
	test $# -eq 1 && test -f "$1" && basename "$1" .key
}

# json_keys FILE: the top-level keys of a JSON document, sorted, on one line.
json_keys() {
	json_get "$1" "' '.join(sorted(d))"
}

test_expect_success 'docs/SYNC.md has one walk-through block, and no line of it can fail unnoticed' '
	extract "$DOC" >walk.sh &&
	test -s walk.sh &&
	for c in "git init --bare" "resque init" "resque key gen" "resque key add" \
		"resque remote add" "resque clone" "resque pull --rebase" "resque push" \
		"resque note -m" "resque commit" "export RESQUE_HOME="; do
		grep -q -F -e "$c" walk.sh || { say "the walk-through lacks \"$c\""; return 1; }
	done &&
	# sh -e ignores a failure left of && or ||, inside a pipeline or after !
	if grep -n -E "&&|\|\||\||^[[:space:]]*!" walk.sh; then
		say "a walk-through line hides failures from sh -e (&&, ||, |, !): one command a line"
		return 1
	fi
'

test_expect_success 'the walk-through runs as written, every line succeeding' '
	{ limited sh -e -x walk.sh >walk.log 2>&1 || { cat walk.log; return 1; }; } &&
	test -d "$REMOTE" && test -d "$A/.resque" && test -d "$B/.resque"
'

test_expect_success 'the remote and both clones hold the same 5 entries, with one tip' '
	for d in "$REMOTE" "$A/.resque" "$B/.resque"; do
		test "$(git --git-dir="$d" rev-list --count ledger)" = 5 || { say "$d: not 5 entries"; return 1; }
	done &&
	tip=$(git --git-dir="$REMOTE" rev-parse ledger) &&
	test "$(git --git-dir="$A/.resque" rev-parse ledger)" = "$tip" &&
	test "$(git --git-dir="$B/.resque" rev-parse ledger)" = "$tip" &&
	test "$(git --git-dir="$B/.resque" config remote.origin.url)" = "$REMOTE" &&
	test "$(git --git-dir="$A/.resque" config remote.origin.url)" = "$REMOTE"
'

test_expect_success 'verify passes in both clones, each with its own key store' '
	(cd "$A" && RESQUE_HOME=$AKEYS expect_success resque verify --json) &&
	test "$(json_get "$OUT" "d[\"ok\"]")" = True &&
	test "$(json_get "$OUT" "d[\"entries\"]")" = 5 &&
	test "$(json_get "$OUT" "d[\"signers\"]")" = 2 &&
	(cd "$B" && RESQUE_HOME=$BKEYS expect_success resque verify --json) &&
	test "$(json_get "$OUT" "d[\"ok\"]")" = True &&
	test "$(json_get "$OUT" "d[\"entries\"]")" = 5
'

test_expect_success 'plain git reads the remote: Bob signed v1, Alice her rebased note after it' '
	alice=$(key_id "$AKEYS") && bob=$(key_id "$BKEYS") && test "$alice" != "$bob" &&
	git --git-dir="$REMOTE" log --format=%s ledger >subjects &&
	test "$(wc -l <subjects)" = 5 &&
	grep -q -E "^0 init [0-9a-f]{12}$" subjects &&
	grep -q -E "^4 note [0-9a-f]{12}$" subjects &&
	test "$(entry_field "$REMOTE" ledger~4 "d[\"type\"]")" = init &&
	test "$(entry_field "$REMOTE" ledger~2 "d[\"type\"]")" = key &&
	test "$(entry_field "$REMOTE" ledger~2 "d[\"signer\"]")" = "$alice" &&
	test "$(entry_field "$REMOTE" ledger~1 "d[\"type\"]")" = version &&
	test "$(entry_field "$REMOTE" ledger~1 "d[\"signer\"]")" = "$bob" &&
	test "$(entry_field "$REMOTE" ledger~1 "d[\"body\"][\"name\"]")" = v1 &&
	test "$(entry_field "$REMOTE" ledger "d[\"type\"]")" = note &&
	test "$(entry_field "$REMOTE" ledger "d[\"seq\"]")" = 4 &&
	test "$(entry_field "$REMOTE" ledger "d[\"signer\"]")" = "$alice" &&
	test "$(entry_field "$REMOTE" ledger "d[\"prev\"]")" = "$(entry_id "$REMOTE" ledger~1)" &&
	git clone -q -b ledger "$REMOTE" plain &&
	test -f plain/entry && test -f plain/sig &&
	test "$(json_get plain/entry "d[\"body\"][\"message\"]")" = "retrain when the images of line 4 arrive"
'

test_expect_success 'pull --json: what arrived, in the contract of issue 13' '
	(cd "$A" && RESQUE_HOME=$AKEYS expect_success resque note -m "one more" &&
		RESQUE_HOME=$AKEYS expect_success resque push --json) &&
	test "$(json_keys "$OUT")" = "after before rebased received remote sent url" &&
	test "$(json_get "$OUT" "d[\"sent\"]")" = 1 &&
	test "$(json_get "$OUT" "(d[\"before\"][\"size\"], d[\"after\"][\"size\"])")" = "(6, 6)" &&
	(cd "$B" && RESQUE_HOME=$BKEYS expect_success resque pull --json) &&
	test "$(json_keys "$OUT")" = "after before rebased received remote sent url" &&
	test "$(json_get "$OUT" "d[\"remote\"]")" = origin &&
	test "$(json_get "$OUT" "d[\"url\"]")" = "$REMOTE" &&
	test "$(json_get "$OUT" "sorted(d[\"before\"])")" = "[$(printf "%s" "'"'"'size'"'"', '"'"'tip'"'"'")]" &&
	test "$(json_get "$OUT" "d[\"before\"][\"size\"]")" = 5 &&
	test "$(json_get "$OUT" "d[\"after\"][\"size\"]")" = 6 &&
	test "$(json_get "$OUT" "d[\"before\"][\"tip\"]")" = "$(entry_id "$REMOTE" ledger~1)" &&
	test "$(json_get "$OUT" "d[\"after\"][\"tip\"]")" = "$(entry_id "$REMOTE" ledger)" &&
	test "$(json_get "$OUT" "(d[\"received\"], d[\"sent\"], d[\"rebased\"])")" = "(1, 0, 0)"
'

test_expect_success 'pull --rebase --json counts the replayed entries; then everyone agrees' '
	(cd "$B" && RESQUE_HOME=$BKEYS expect_success resque note -m "bob, offline") &&
	(cd "$A" && RESQUE_HOME=$AKEYS expect_success resque note -m "alice, online" &&
		RESQUE_HOME=$AKEYS expect_success resque push) &&
	(cd "$B" && RESQUE_HOME=$BKEYS expect_error 1 "pull first" resque push) &&
	(cd "$B" && RESQUE_HOME=$BKEYS expect_success resque pull --rebase --json) &&
	test "$(json_get "$OUT" "(d[\"received\"], d[\"sent\"], d[\"rebased\"])")" = "(1, 0, 1)" &&
	test "$(json_get "$OUT" "(d[\"before\"][\"size\"], d[\"after\"][\"size\"])")" = "(7, 8)" &&
	(cd "$B" && RESQUE_HOME=$BKEYS expect_success resque push) &&
	(cd "$A" && RESQUE_HOME=$AKEYS expect_success resque pull) &&
	for d in "$REMOTE" "$A/.resque" "$B/.resque"; do
		test "$(git --git-dir="$d" rev-list --count ledger)" = 8 || return 1
	done &&
	test "$(entry_field "$REMOTE" ledger "d[\"signer\"]")" = "$(key_id "$BKEYS")" &&
	(cd "$A" && RESQUE_HOME=$AKEYS expect_success resque verify) &&
	(cd "$B" && RESQUE_HOME=$BKEYS expect_success resque verify)
'

test_expect_success 'the walk-through with pull --rebase turned into pull fails' '
	sed "s/resque pull --rebase/resque pull/" walk.sh >walk-wrong.sh &&
	! cmp -s walk.sh walk-wrong.sh &&
	mkdir wrong-home &&
	if HOME=$SCRATCH/wrong-home limited sh -e walk-wrong.sh >wrong.log 2>&1; then
		say "a wrong walk-through ran through:"; cat wrong.log; return 1
	fi &&
	grep -q "the ledgers diverged" wrong.log
'

test_done
