#!/bin/sh
# resque checkpoint: the C2SP signed note of the ledger's Merkle tree,
# checked field by field by an independent implementation
# (tests/data/tlog_ref.py: hashlib over the entries' bytes as git holds
# them; the Ed25519 signature with python3-cryptography when installed,
# and always with resque audit check).
. "$(dirname "$0")/lib.sh"

REF="$RQ_ROOT/tests/data/tlog_ref.py"
ref() { "$PY" "$REF" "$@"; }
# Loops live in functions: a `return 1` inside a test body's loop would
# leave test_expect_success itself.
every_size() {
	for n in 1 2 3 4 5 6; do
		resque -C proj checkpoint --size $n >cp$n.s || return 1
		ref checkpoint proj/.resque cp$n.s signer.pub | grep -qx "ok $n" || return 1
		test "$(sed -n 3p cp$n.s)" = "$(ref root proj/.resque $n)" || return 1
	done
}

test_expect_success 'setup: a ledger of six entries' '
	expect_success resque init proj &&
	for m in one two three four five; do resque -C proj note -m "$m" >/dev/null || break; done &&
	test "$(git --git-dir=proj/.resque rev-list ledger | wc -l)" = 6 &&
	pub=$(ls "$RESQUE_HOME"/keys/*.pub) && cp "$pub" signer.pub &&
	test "$(git --git-dir=proj/.resque rev-list ledger | wc -l)" = 6
'

test_expect_success 'the checkpoint: origin, size, root, key id and signature as C2SP defines them' '
	expect_success resque -C proj checkpoint && cp "$OUT" cp6 &&
	ref checkpoint proj/.resque cp6 signer.pub >ref.out &&
	grep -qx "ok 6" ref.out &&
	{ grep -qx "signature: checked" ref.out || grep -x "signature: skipped.*" ref.out >&2; } &&
	test "$(sed -n 2p cp6)" = 6 &&
	test "$(sed -n 4p cp6)" = "" &&
	test "$(wc -l <cp6)" = 5 &&
	grep -q "^— resque-key-[0-9a-f]\{16\} " cp6
'

test_expect_success 'the signature also verifies with resque audit check' '
	(cd proj && resque audit prove 3) >p3 &&
	id=$(git --git-dir=proj/.resque show ledger~2:entry | sha256sum | cut -c1-12) &&
	(cd proj && resque show "$id" --raw) >e3 &&
	expect_success resque audit check --key signer.pub --checkpoint cp6 --inclusion p3 --entry e3 &&
	grep_out "^ok: entry 3 "
'

test_expect_success '--size N: the tree of the first N entries, for every N' '
	every_size &&
	compare cp6 cp6.s
'

test_expect_success 'signing is deterministic, and an older size keeps its checkpoint after appends' '
	expect_success resque -C proj checkpoint --size 4 && compare cp4.s "$OUT" &&
	resque -C proj note -m six >/dev/null &&
	expect_success resque -C proj checkpoint --size 4 && compare cp4.s "$OUT" &&
	expect_success resque -C proj checkpoint && test "$(sed -n 2p "$OUT")" = 7 &&
	ref checkpoint proj/.resque "$OUT" signer.pub | grep -qx "ok 7"
'

test_expect_success '--json: origin, size, root and the note' '
	expect_success resque -C proj checkpoint --size 6 --json &&
	"$PY" -c "import json,sys; sys.stdout.write(json.load(open(sys.argv[1]))[\"note\"])" "$OUT" >note &&
	compare cp6 note &&
	test "$(json_get "$OUT" "\",\".join(sorted(d))")" = "note,origin,root,size" &&
	test "$(json_get "$OUT" "d[\"size\"]")" = 6 &&
	test "$(json_get "$OUT" "d[\"root\"]")" = "$(sed -n 3p cp6)" &&
	test "$(json_get "$OUT" "d[\"origin\"]")" = "$(sed -n 1p cp6)"
'

test_expect_success 'bad sizes are refused and change nothing' '
	repo_state proj >before &&
	expect_error 1 "--size 0: the ledger has 7 entries" resque -C proj checkpoint --size 0 &&
	expect_error 1 "--size 8: the ledger has 7 entries" resque -C proj checkpoint --size 8 &&
	expect_error 1 "--size -1: the ledger has 7 entries" resque -C proj checkpoint --size -1 &&
	expect_error 2 "--size takes a whole number" resque -C proj checkpoint --size x &&
	test "$(wc -l <"$ERR")" -ge 1 &&
	repo_state proj >after && compare before after
'

test_expect_success 'no repository, no signing key: refused' '
	mkdir empty &&
	(cd empty && expect_error 1 "not in a resque repository" resque checkpoint) &&
	repo_state proj >before &&
	expect_error 1 "no signing key" env RESQUE_HOME="$SCRATCH/nokeys" resque -C proj checkpoint &&
	test "$(wc -l <"$ERR")" = 1 &&
	repo_state proj >after && compare before after
'

test_expect_success 'a key that is not a signer of the ledger cannot sign a checkpoint' '
	resque key gen >gen.out && other=$(sed -n "s/^key \([0-9a-f]*\).*/\1/p" gen.out) &&
	git config --file proj/.resque/config resque.signingkey "$other" &&
	repo_state proj >before &&
	expect_error 1 "key $other is not a signer of this ledger" resque -C proj checkpoint &&
	repo_state proj >after && compare before after
'

test_expect_success 'a revoked key cannot sign a checkpoint' '
	first=$(sed -n "s/^id //p" signer.pub) &&
	git config --file proj/.resque/config --unset resque.signingkey &&
	resque -C proj key add "$RESQUE_HOME/keys/$other.pub" >/dev/null &&
	git config --file proj/.resque/config resque.signingkey "$other" &&
	resque -C proj key revoke "$first" >/dev/null &&
	expect_success resque -C proj checkpoint &&
	git config --file proj/.resque/config resque.signingkey "$first" &&
	repo_state proj >before &&
	expect_error 1 "key $first was revoked" resque -C proj checkpoint &&
	repo_state proj >after && compare before after
'

# ---- only verified entries are signed ----------------------------------------
# A fresh $RESQUE_HOME with the signing keys: verify has never seen proj.
fresh_home() { rm -rf "$SCRATCH/$1" && mkdir -p "$SCRATCH/$1" && cp -r "$RESQUE_HOME/keys" "$SCRATCH/$1/"; }

test_expect_success 'no record of an earlier verify: checkpoint verifies first, says so, remembers' '
	git config --file proj/.resque/config resque.signingkey "$other" &&
	n=$(git --git-dir=proj/.resque rev-list --count ledger) && test "$n" = 9 &&
	fresh_home h1 && repo_state proj >before &&
	RESQUE_HOME="$SCRATCH/h1" expect_success resque -C proj checkpoint && cp "$OUT" cp-h1 &&
	test "$(cat "$ERR")" = "resque: verifying the ledger first (no record of an earlier verify)" &&
	ref checkpoint proj/.resque cp-h1 "$SCRATCH/h1/keys/$other.pub" >ref-h1 && grep -qx "ok $n" ref-h1 &&
	id=$(sed -n "1s,^resque/,,p" cp-h1) &&
	grep -q "^$id [0-9a-f]\{64\} $n $(sed -n 3p cp-h1)\$" "$SCRATCH/h1/known_ledgers" &&
	test "$(wc -c <"$SCRATCH/h1/known/$id.leaves")" = $((n * 32)) &&
	RESQUE_HOME="$SCRATCH/h1" expect_success resque -C proj checkpoint && compare cp-h1 "$OUT" &&
	test ! -s "$ERR" &&
	RESQUE_HOME="$SCRATCH/h1" expect_success resque -C proj checkpoint --size 5 &&
	test ! -s "$ERR" && test "$(sed -n 3p "$OUT")" = "$(ref root proj/.resque 5)" &&
	RESQUE_HOME="$SCRATCH/h1" expect_success resque -C proj verify &&
	repo_state proj >after && compare before after
'

test_expect_success 'entries appended since the last verify: only they are verified, silently' '
	RESQUE_HOME="$SCRATCH/h1" resque -C proj note -m ten >/dev/null &&
	RESQUE_HOME="$SCRATCH/h1" expect_success resque -C proj checkpoint && test ! -s "$ERR" &&
	grep -q " 10 $(sed -n 3p "$OUT")\$" "$SCRATCH/h1/known_ledgers" &&
	test "$(sed -n 2p "$OUT")" = 10 && test "$(sed -n 3p "$OUT")" = "$(ref root proj/.resque 10)" &&
	RESQUE_HOME="$SCRATCH/h1" expect_success resque -C proj checkpoint && test ! -s "$ERR"
'

test_expect_success 'a ledger that does not verify: nothing is signed (exit 3), nothing remembered' '
	cp -r proj bad && fresh_home h2 &&
	RESQUE_HOME="$SCRATCH/stranger" expect_success resque key gen &&
	rq-forge bad/.resque "$(ls "$SCRATCH"/stranger/keys/*.key)" "forged" &&
	repo_state bad >before &&
	RESQUE_HOME="$SCRATCH/h2" expect_error 3 "the ledger does not verify (run '"'"'resque verify'"'"'): entry 10 (" resque -C bad checkpoint &&
	test ! -s "$OUT" && test "$(wc -l <"$ERR")" = 2 &&
	RESQUE_HOME="$SCRATCH/h2" expect_failure 3 resque -C bad checkpoint --size 3 && test ! -s "$OUT" &&
	test ! -e "$SCRATCH/h2/known_ledgers" &&
	(cd bad && RESQUE_HOME="$SCRATCH/h2" expect_failure 3 resque audit prove 2) && test ! -s "$OUT" &&
	repo_state bad >after && compare before after
'

test_expect_success 'the help says what is signed' '
	expect_success resque checkpoint --help &&
	grep_out "Only a tree of verified entries is signed" && grep_out "reindex"
'

test_done
