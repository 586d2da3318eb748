#!/bin/sh
# resque verify against a ledger rewritten with plain git: every kind of
# tampering must make it exit 3 and name the entry.
. "$(dirname "$0")/lib.sh"
test_requires SQLITE3

G=proj/.resque
git_() { git --git-dir="$G" "$@"; }
# The trees of the ledger's commits, oldest first.
trees() { git_ rev-list --reverse ledger | while read -r c; do git_ rev-parse "$c^{tree}"; done; }
# Replace the ledger by a linear chain of new commits with these trees.
rebuild() {
	_p=""
	for _t in "$@"; do
		if [ -z "$_p" ]; then _p=$(echo forged | git_ commit-tree "$_t")
		else _p=$(echo forged | git_ commit-tree "$_t" -p "$_p"); fi
	done
	git_ update-ref refs/heads/ledger "$_p"
}
# A tree like $1 with file $2 replaced by the blob read from stdin.
replace_file() {
	_b=$(git_ hash-object -w --stdin)
	git_ ls-tree "$1" | awk -v f="$2" -v b="$_b" 'BEGIN{FS=OFS="\t"} { if ($2 == f) { split($1, m, " "); $1 = m[1] " " m[2] " " b } print }' | git_ mktree
}
restore() { git_ update-ref refs/heads/ledger "$(cat orig)"; }

test_expect_success 'setup: a ledger of five entries that verifies' '
	expect_success resque init proj &&
	for m in one two three four; do resque -C proj note -m "$m" >/dev/null || return 1; done &&
	git_ rev-parse ledger >orig &&
	trees >t && test "$(wc -l <t)" = 5 &&
	expect_success resque -C proj verify && grep_out "^ok: 5 entries verified"
'

test_expect_success 'an edited entry: bad signature and a broken chain' '
	set -- $(cat t) &&
	new=$(git_ show "$3:entry" | sed "s/\"two\"/\"TWO\"/" | replace_file "$3" entry) &&
	rebuild "$1" "$2" "$new" "$4" "$5" &&
	expect_failure 3 resque -C proj verify &&
	grep_out "^entry 2 .*bad signature" && grep_out "^entry 3 .*hash chain broken" &&
	restore && expect_success resque -C proj verify
'

test_expect_success 'a deleted entry' '
	set -- $(cat t) && rebuild "$1" "$2" "$4" "$5" &&
	expect_failure 3 resque -C proj verify &&
	grep_out "entry 2 .*sequence number 3" && grep_out "hash chain broken" &&
	restore
'

test_expect_success 'two entries reordered' '
	set -- $(cat t) && rebuild "$1" "$2" "$4" "$3" "$5" &&
	expect_failure 3 resque -C proj verify &&
	grep_out "entry 2 .*sequence number 3" && grep_out "entry 3 .*sequence number 2" &&
	restore
'

test_expect_success 'an inserted entry' '
	set -- $(cat t) && rebuild "$1" "$2" "$3" "$3" "$4" "$5" &&
	expect_failure 3 resque -C proj verify && grep_out "entry 3 .*sequence number 2" &&
	restore
'

test_expect_success 'a signature replaced by another entry'"'"'s' '
	set -- $(cat t) &&
	new=$(git_ show "$4:sig" | replace_file "$3" sig) &&
	rebuild "$1" "$2" "$new" "$4" "$5" &&
	expect_failure 3 resque -C proj verify && grep_out "^entry 2 .*bad signature" &&
	! grep -q "^entry 3" "$OUT" &&
	restore
'

test_expect_success 'a non-canonical entry is named' '
	set -- $(cat t) &&
	new=$(git_ show "$5:entry" | sed "s/,\"prev\"/, \"prev\"/" | replace_file "$5" entry) &&
	rebuild "$1" "$2" "$3" "$4" "$new" &&
	expect_failure 3 resque -C proj verify && grep_out "entry 4.*canonical" &&
	restore
'

test_expect_success 'an unsigned entry' '
	set -- $(cat t) &&
	new=$(git_ ls-tree "$5" | grep -v "	sig$" | git_ mktree) &&
	rebuild "$1" "$2" "$3" "$4" "$new" &&
	expect_failure 3 resque -C proj verify && grep_out "entry 4 .*no signature" &&
	restore
'

test_expect_success 'an entry signed by a key never added' '
	RESQUE_HOME="$SCRATCH/stranger" resque key gen >/dev/null &&
	rq-forge "$G" "$(ls "$SCRATCH"/stranger/keys/*.key)" "forged" &&
	expect_failure 3 resque -C proj verify &&
	grep_out "^entry 5 .*not a signer of this ledger" &&
	restore && expect_success resque -C proj verify
'

test_expect_success 'an entry signed by a revoked key' '
	RESQUE_HOME="$SCRATCH/bob" resque key gen >/dev/null &&
	expect_success resque -C proj key add "$(ls "$SCRATCH"/bob/keys/*.pub)" --name bob &&
	RESQUE_HOME="$SCRATCH/bob" expect_success resque -C proj note -m "bob was here" &&
	expect_success resque -C proj key revoke "$(basename "$(ls "$SCRATCH"/bob/keys/*.pub)" .pub)" &&
	expect_success resque -C proj verify &&
	rq-forge "$G" "$(ls "$SCRATCH"/bob/keys/*.key)" "after revocation" &&
	expect_failure 3 resque -C proj verify &&
	grep_out "^entry 8 .*revoked at entry 7" &&
	! grep -q "^entry 6" "$OUT" &&
	git_ update-ref refs/heads/ledger ledger~1 && git_ rev-parse ledger >orig &&
	expect_success resque -C proj verify
'

test_expect_success 'an attachment altered after the fact' '
	printf "payload" >att.bin &&
	rq-forge "$G" "$(ls "$RESQUE_HOME"/keys/*.key)" "with attachment" att.bin &&
	expect_success resque -C proj verify &&
	tip=$(git_ rev-parse ledger^{tree}) && parent=$(git_ rev-parse ledger~1) &&
	atree=$(git_ rev-parse "ledger:att") &&
	newatt=$(printf "PAYLOAD" | replace_file "$atree" data.bin) &&
	newtip=$(git_ ls-tree "$tip" | awk -v t="$newatt" "BEGIN{FS=OFS=\"\t\"} { if (\$2 == \"att\") { split(\$1, m, \" \"); \$1 = m[1] \" \" m[2] \" \" t } print }" | git_ mktree) &&
	c=$(echo forged | git_ commit-tree "$newtip" -p "$parent") && git_ update-ref refs/heads/ledger "$c" &&
	expect_failure 3 resque -C proj verify && grep_out "attachment .data.bin. does not match" &&
	git_ update-ref refs/heads/ledger "$parent" && expect_success resque -C proj verify --forget
'

test_expect_success 'index.db edited behind resque' '
	seq1=$(resque -C proj log --json | json_get /dev/stdin "[e[\"id\"] for e in d if e[\"seq\"]==1][0]") &&
	sqlite3 "$G/index.db" "UPDATE entries SET id=\"$(echo "$seq1" | rev)\" WHERE seq=1" &&
	expect_failure 3 resque -C proj verify --json &&
	test "$(json_get "$OUT" "d[\"ok\"]")" = False &&
	test "$(json_get "$OUT" "d[\"problems\"][0][\"seq\"]")" = 1 &&
	expect_success resque -C proj reindex && expect_success resque -C proj verify
'

test_expect_success 'a merge in the ledger is refused' '
	set -- $(cat t) &&
	a=$(git_ rev-parse ledger) && b=$(git_ rev-parse ledger~1) &&
	m=$(echo merge | git_ commit-tree "$(git_ rev-parse ledger^{tree})" -p "$a" -p "$b") &&
	git_ update-ref refs/heads/ledger "$m" &&
	expect_failure 3 resque -C proj verify && grep_out "merge" &&
	git_ update-ref refs/heads/ledger "$a"
'

test_expect_success 'a deleted ledger branch' '
	a=$(git_ rev-parse ledger) && git_ update-ref -d refs/heads/ledger &&
	expect_failure 3 resque -C proj verify && grep_out "ledger branch is missing" &&
	git_ update-ref refs/heads/ledger "$a" && expect_success resque -C proj verify
'

test_done
