#!/bin/sh
# resque audit prove|consistency|check: every proof of a 12-entry ledger
# equals an independent RFC 9162 implementation's (tests/data/tlog_ref.py)
# and verifies against signed checkpoints with no repository at hand; every
# tampered input is refused with its exit status and a one-line message
# naming the file; a stale index.db is rebuilt with its Merkle tree.
. "$(dirname "$0")/lib.sh"

REF="$RQ_ROOT/tests/data/tlog_ref.py"
G=proj/.resque
# The bytes of entry SEQ of a ledger of $N entries, as git holds them.
entry_bytes() { git --git-dir="$G" show "ledger~$((N - 1 - $1)):entry"; }
# check ARGS...: resque audit check with the signer's key, run where no
# repository can be found.
check() { (cd "$SCRATCH/nowhere" && resque audit check --key "$SCRATCH/signer.pub" "$@"); }
# One line on stderr that names FILE.
one_line_naming() {
	test "$(wc -l <"$ERR")" = 1 || { say "stderr is not one line:"; cat "$ERR" >&2; return 1; }
	grep -q -F -e "$1" "$ERR" || { say "stderr does not name $1:"; cat "$ERR" >&2; return 1; }
}
# flip_b64 LINE FILE: change the first character of line LINE.
flip_b64() { sed "$1{s/^A/B/;t;s/^./A/}" "$2"; }
# Loops live in functions: a `return 1` inside a test body's loop would
# leave test_expect_success itself.
notes() { # DIR MESSAGE...
	_d=$1
	shift
	for _m; do resque -C "$_d" note -m "$_m" >/dev/null || return 1; done
}
# Every proof resque gives equals the reference's and verifies against the
# checkpoint of its size. Entries are named by id prefix: "3" is a name here.
prove_all() {
	for n in $(seq 1 $N); do
		for i in $(seq 0 $((n - 1))); do
			id=$(sha256sum <entries/$i | cut -c1-16)
			(cd proj && resque audit prove "$id" --size $n) >got/inc-$i-$n || return 1
			compare ref/inc-$i-$n got/inc-$i-$n || return 1
			check --checkpoint ../cps/$n --inclusion ../got/inc-$i-$n --entry ../entries/$i >out 2>err ||
				{ cat err; return 1; }
			grep -q "^ok: entry $i " out || return 1
		done
	done
}
consistency_all() {
	for n in $(seq 1 $N); do
		for m in $(seq 1 $n); do
			(cd proj && resque audit consistency $m $n) >got/con-$m-$n || return 1
			compare ref/con-$m-$n got/con-$m-$n || return 1
			check --checkpoint ../cps/$n --consistency ../got/con-$m-$n --old-checkpoint ../cps/$m >out 2>err ||
				{ cat err; return 1; }
			grep -q "^ok: the tree of $n entries extends the tree of $m entries" out || return 1
		done
	done
}
setup_files() {
	for n in $(seq 1 $N); do resque -C proj checkpoint --size $n >cps/$n || return 1; done
	for i in $(seq 0 $((N - 1))); do entry_bytes $i >entries/$i || return 1; done
}
show_raw() {
	for i in 0 6 11; do
		id=$(sha256sum <entries/$i | cut -c1-16)
		(cd proj && resque show "$id" --raw) >raw || return 1
		compare entries/$i raw || return 1
	done
}

test_expect_success 'setup: 12 entries (two named datasets, one named "3"), checkpoints of every size' '
	mkdir nowhere proj && mkdir -p proj/d1 proj/d2 && echo a >proj/d1/a && echo b >proj/d2/b &&
	expect_success resque init proj &&
	cp "$(ls "$RESQUE_HOME"/keys/*.pub)" signer.pub &&
	notes proj one two three four five &&
	(cd proj && resque dataset add --name train d1 >/dev/null) &&
	notes proj seven eight &&
	(cd proj && resque dataset add --name 3 d2 >/dev/null) &&
	notes proj ten eleven &&
	N=$(git --git-dir="$G" rev-list ledger | wc -l) && test "$N" = 12 &&
	mkdir ref cps entries &&
	"$PY" "$REF" all "$G" ref &&
	setup_files
'

test_expect_success 'show --raw prints the exact bytes git holds' '
	show_raw &&
	(cd proj && resque show train --raw) >raw && compare entries/6 raw
'

test_expect_success 'prove: every entry in every tree size, as the reference computes, verified by audit check' '
	mkdir got && prove_all
'

test_expect_success 'consistency: every pair of sizes, as the reference computes, verified by audit check' '
	consistency_all
'

test_expect_success 'prove resolves a name first, then a sequence number, then an id prefix' '
	(cd proj && expect_success resque audit prove 3) && grep_out "^index 9$" &&
	(cd proj && expect_success resque audit prove train) && grep_out "^index 6$" &&
	(cd proj && expect_success resque audit prove 4) && grep_out "^index 4$" &&
	id=$(sha256sum <entries/5 | cut -c1-10) &&
	(cd proj && expect_success resque audit prove "$id") && grep_out "^index 5$" &&
	(cd proj && expect_success resque audit prove 0 --size 1) && compare ref/inc-0-1 "$OUT"
'

test_expect_success 'prove and consistency --json' '
	(cd proj && expect_success resque audit prove 5 --size 9 --json) &&
	test "$(json_get "$OUT" "\",\".join(sorted(d))")" = "entry,hashes,index,leaf_hash,root,size,type" &&
	test "$(json_get "$OUT" "d[\"type\"]")" = inclusion &&
	test "$(json_get "$OUT" "d[\"index\"]")" = 5 && test "$(json_get "$OUT" "d[\"size\"]")" = 9 &&
	test "$(json_get "$OUT" "d[\"entry\"]")" = "$(sha256sum <entries/5 | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "d[\"root\"]")" = "$(sed -n 3p cps/9)" &&
	test "$(json_get "$OUT" "d[\"leaf_hash\"]")" = "$("$PY" -c "import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(b\"\\0\" + open(sys.argv[1], \"rb\").read()).digest()).decode())" entries/5)" &&
	test "$(json_get "$OUT" "\"\\n\".join(d[\"hashes\"])")" = "$(tail -n +4 ref/inc-5-9)" &&
	(cd proj && expect_success resque audit consistency 3 9 --json) &&
	test "$(json_get "$OUT" "\",\".join(sorted(d))")" = "hashes,old_root,old_size,root,size,type" &&
	test "$(json_get "$OUT" "d[\"old_root\"]")" = "$(sed -n 3p cps/3)" &&
	test "$(json_get "$OUT" "d[\"root\"]")" = "$(sed -n 3p cps/9)" &&
	test "$(json_get "$OUT" "\"\\n\".join(d[\"hashes\"])")" = "$(tail -n +4 ref/con-3-9)"
'

test_expect_success 'prove and consistency refuse what is not in the ledger, changing nothing' '
	repo_state proj >before &&
	cd proj &&
	expect_error 1 "--size 13: the ledger has 12 entries" resque audit prove 1 --size 13 &&
	expect_error 1 "--size 0: the ledger has 12 entries" resque audit prove 1 --size 0 &&
	expect_error 1 "entry 10 (" resque audit prove 10 --size 5 &&
	expect_error 1 "no entry named or identified by '\''99'\''" resque audit prove 99 &&
	expect_error 1 "no entry named or identified by '\''nothing'\''" resque audit prove nothing &&
	expect_error 1 "need 0 < M <= N <= 12" resque audit consistency 0 5 &&
	expect_error 1 "need 0 < M <= N <= 12" resque audit consistency 5 4 &&
	expect_error 1 "need 0 < M <= N <= 12" resque audit consistency 3 13 &&
	expect_error 2 "M must be a tree size" resque audit consistency x 3 &&
	expect_error 2 "N must be a tree size" resque audit consistency 3 x &&
	cd .. && repo_state proj >after && compare before after
'

test_expect_success 'check: the key as text, as a file; the JSON proof form' '
	check --checkpoint ../cps/12 --inclusion ../got/inc-3-12 --entry ../entries/3 >/dev/null &&
	key=$(cat signer.pub) &&
	(cd nowhere && expect_success resque audit check --key "$key" --checkpoint ../cps/12 \
		--inclusion ../got/inc-3-12 --entry ../entries/3) && grep_out "^ok: entry 3 " &&
	"$PY" -c "import json,sys
l = open(sys.argv[1]).read().split()
print(json.dumps({\"type\": \"inclusion\", \"index\": int(l[5]), \"size\": int(l[7]), \"hashes\": l[8:]}))" got/inc-3-12 >inc.json &&
	check --checkpoint ../cps/12 --inclusion ../inc.json --entry ../entries/3 >out &&
	grep -q "^ok: entry 3 " out
'

test_expect_success 'check needs no repository: it runs where none can be found' '
	(cd nowhere && expect_error 1 "not in a resque repository" resque log) &&
	(cd nowhere && env -u RESQUE_DIR resque audit check --key ../signer.pub --checkpoint ../cps/7 \
		--consistency ../got/con-2-7 --old-checkpoint ../cps/2 >../out) &&
	grep -q "^ok: " out
'

test_expect_success 'tampered inclusion proofs, entries and checkpoints: exit 3, one line naming the file' '
	flip_b64 4 got/inc-3-12 >bad1 && ! cmp -s bad1 got/inc-3-12 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../bad1 --entry ../entries/3) &&
	one_line_naming ../bad1 && grep_err "does not lead to the root" &&
	sed "s/^index 3$/index 4/" got/inc-3-12 >bad2 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../bad2 --entry ../entries/3) &&
	one_line_naming ../entries/3 && grep_err "entry 3 .*is for entry 4" &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../bad2 --entry ../entries/4) &&
	one_line_naming ../bad2 && grep_err "does not lead to the root" &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../got/inc-3-12 --entry ../entries/5) &&
	one_line_naming ../entries/5 && grep_err "is for entry 3" &&
	sed "s/\"one\"/\"ONE\"/" entries/1 >edited && ! cmp -s edited entries/1 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../got/inc-1-12 --entry ../edited) &&
	one_line_naming ../got/inc-1-12 && grep_err "does not lead to the root" &&
	sed "\$d" got/inc-3-12 >short &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../short --entry ../entries/3) &&
	one_line_naming ../short && grep_err "fewer than the tree needs" &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/11 --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../got/inc-3-12 && grep_err "tree of 12 entries, but ../cps/11 is of 11"
'

test_expect_success 'checkpoints signed by another key, with a bad signature, or of another origin: exit 3' '
	mkdir home2 && (export RESQUE_HOME="$SCRATCH/home2" &&
		resque init other >/dev/null && resque -C other note -m x >/dev/null &&
		resque -C other checkpoint >cp-otherkey) &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cp-otherkey --inclusion ../got/inc-1-2 --entry ../entries/1) &&
	one_line_naming ../cp-otherkey && grep_err "not signed by resque-key-" &&
	sed "\$s/^\(.*\)\(....\)\$/\1AAA=/" cps/12 >badsig && ! cmp -s badsig cps/12 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../badsig --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../badsig && grep_err "bad signature by resque-key-" &&
	flip_b64 3 cps/12 >badroot && ! cmp -s badroot cps/12 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../badroot --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../badroot && grep_err "bad signature" &&
	resque init third >/dev/null &&
	notes third a b c d e f g h i j k &&
	resque -C third checkpoint --size 3 >cp-origin3 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --consistency ../got/con-3-12 --old-checkpoint ../cp-origin3) &&
	one_line_naming ../cp-origin3 && grep_err "origin resque/[0-9a-f]* is not ../cps/12.s origin"
'

test_expect_success 'tampered consistency proofs, an old checkpoint newer than the new: exit 3' '
	flip_b64 5 got/con-3-12 >badc && ! cmp -s badc got/con-3-12 &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --consistency ../badc --old-checkpoint ../cps/3) &&
	one_line_naming ../badc && grep_err "does not lead to the" &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/12 --consistency ../got/con-3-12 --old-checkpoint ../cps/4) &&
	one_line_naming ../got/con-3-12 && grep_err "from 3 to 12 entries, but the checkpoints are of 4 and 12" &&
	(cd nowhere && expect_failure 3 resque audit check --key ../signer.pub --checkpoint ../cps/3 --consistency ../got/con-3-12 --old-checkpoint ../cps/12) &&
	one_line_naming ../cps/12 && grep_err "is newer than ../cps/3"
'

test_expect_success 'unreadable input: truncated, mis-encoded, missing, too large, the wrong kind: exit 1' '
	head -c 40 cps/12 >trunc-cp &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../trunc-cp --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../trunc-cp &&
	sed "3s/.*/not base64!/" cps/12 >enc-cp &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../enc-cp --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../enc-cp && grep_err "root hash is not base64" &&
	printf "\377\376garbage\n\n\n" >bin-cp &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../bin-cp --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../bin-cp &&
	head -c 100 got/inc-3-12 >trunc-p &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../trunc-p --entry ../entries/3) &&
	one_line_naming ../trunc-p &&
	sed "4s/.*/%%%%/" got/inc-3-12 >enc-p &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../enc-p --entry ../entries/3) &&
	one_line_naming ../enc-p &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../got/con-3-12 --entry ../entries/3) &&
	one_line_naming ../got/con-3-12 && grep_err "a consistency proof, not the inclusion proof" &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../missing --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../missing && grep_err "No such file" &&
	(cd nowhere && expect_failure 1 resque audit check --key ../missing.pub --checkpoint ../cps/12 --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../missing.pub &&
	(cd nowhere && expect_failure 1 resque audit check --key ../cps/12 --checkpoint ../cps/12 --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../cps/12 &&
	printf "{\"not\": \"an entry\"}" >notentry &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../got/inc-3-12 --entry ../notentry) &&
	one_line_naming ../notentry && grep_err "not a ledger entry" &&
	{ cat cps/12; head -c 70000 /dev/zero | tr "\0" x; } >big &&
	(cd nowhere && expect_failure 1 resque audit check --key ../signer.pub --checkpoint ../big --inclusion ../got/inc-3-12 --entry ../entries/3) &&
	one_line_naming ../big && grep_err "larger than"
'

test_expect_success 'check: usage errors exit 2' '
	cd nowhere &&
	expect_error 2 "--key" resque audit check --checkpoint ../cps/12 --inclusion ../got/inc-3-12 --entry ../entries/3 &&
	expect_error 2 "one proof" resque audit check --key ../signer.pub --checkpoint ../cps/12 &&
	expect_error 2 "one proof" resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion a --consistency b --entry c &&
	expect_error 2 "--inclusion needs --entry" resque audit check --key ../signer.pub --checkpoint ../cps/12 --inclusion ../got/inc-3-12 &&
	expect_error 2 "--consistency needs --old-checkpoint" resque audit check --key ../signer.pub --checkpoint ../cps/12 --consistency ../got/con-3-12 &&
	expect_error 2 "not a subcommand" resque audit proof 1
'

test_expect_success 'a missing index.db is rebuilt with its Merkle tree' '
	rm -f "$G"/index.db "$G"/index.db-wal "$G"/index.db-shm &&
	(cd proj && expect_success resque audit prove 7 --size 11) && compare ref/inc-7-11 "$OUT" &&
	expect_success resque -C proj verify
'

test_expect_success 'an index.db of an older schema (no merkle table) is rebuilt, not refused' '
	"$PY" -c "import sqlite3,sys
db = sqlite3.connect(sys.argv[1])
db.execute(\"DROP TABLE merkle\")
db.execute(\"PRAGMA user_version=1\")
db.commit()" "$G/index.db" &&
	(cd proj && expect_success resque audit consistency 5 12) && compare ref/con-5-12 "$OUT" &&
	test "$("$PY" -c "import sqlite3,sys; db = sqlite3.connect(sys.argv[1]); print(db.execute(\"PRAGMA user_version\").fetchone()[0], db.execute(\"SELECT count(*) FROM merkle\").fetchone()[0])" "$G/index.db")" = "2 22" &&
	expect_success resque -C proj verify
'

test_expect_success 'verify: a Merkle tree in index.db that disagrees with the ledger is an integrity violation' '
	"$PY" -c "import sqlite3,sys
db = sqlite3.connect(sys.argv[1])
db.execute(\"UPDATE merkle SET hash=zeroblob(32) WHERE level=2 AND idx=1\")
db.commit()" "$G/index.db" &&
	expect_failure 3 resque -C proj verify &&
	grep_out "index.db.s Merkle tree disagrees with the ledger \(run .resque reindex.\)" &&
	expect_success resque -C proj reindex && expect_success resque -C proj verify &&
	"$PY" -c "import sqlite3,sys
db = sqlite3.connect(sys.argv[1])
db.execute(\"DELETE FROM merkle WHERE level=0 AND idx=11\")
db.commit()" "$G/index.db" &&
	expect_failure 3 resque -C proj verify && grep_out "Merkle tree disagrees" &&
	expect_success resque -C proj reindex && expect_success resque -C proj verify
'

# ---- index.db is never vouched for ------------------------------------------
# index.db (its `merkle` table included) is derived data anyone can edit
# without the signing key: checkpoint must never sign, and audit prove
# never hand out, a root or proof that is not of verified entries.
F=fx/.resque
# sql STATEMENT: run it on fx's index.db.
sql() { "$PY" -c "import sqlite3,sys
db = sqlite3.connect(sys.argv[1]); db.execute(sys.argv[2]); db.commit()" "$F/index.db" "$1"; }
# forge_leaf FILE SEQ: write SHA-256(0x00 || FILE) into index.db as leaf SEQ.
forge_leaf() { "$PY" -c "import hashlib,sqlite3,sys
h = hashlib.sha256(b'\\x00' + open(sys.argv[2], 'rb').read()).digest()
db = sqlite3.connect(sys.argv[1])
db.execute('UPDATE merkle SET hash=? WHERE level=0 AND idx=?', (h, int(sys.argv[3])))
db.commit()" "$F/index.db" "$1" "$2"; }
# the memory verify keeps of fx, and its leaves
fx_memory() { cat "$RESQUE_HOME/known_ledgers" "$RESQUE_HOME"/known/*.leaves 2>/dev/null | sha256sum; }
NOTVERIFIED="the ledger does not verify (run 'resque verify'): index.db's Merkle tree disagrees with the ledger (run 'resque reindex')"
EDITED="index.db: its Merkle tree disagrees with the verified ledger (run 'resque reindex')"

test_expect_success 'setup: a ledger of six entries, never verified; an entry forged from entry 2' '
	expect_success resque init fx && notes fx a b c d e &&
	git --git-dir="$F" show ledger~3:entry >fx-e2.json &&
	sed "s/\"message\":\"b\"/\"message\":\"FORGED\"/" fx-e2.json >fx-forged.json &&
	! cmp -s fx-e2.json fx-forged.json && grep -q FORGED fx-forged.json &&
	key=$(resque -C fx key export) && test -n "$key"
'

test_expect_success 'a forged leaf in index.db: checkpoint and prove refuse (exit 3), nothing signed, nothing changed' '
	forge_leaf fx-forged.json 2 &&
	repo_state fx >before && cp "$F/index.db" index.before && fx_memory >memory.before &&
	expect_error 3 "$NOTVERIFIED" resque -C fx checkpoint && test ! -s "$OUT" &&
	expect_error 3 "$NOTVERIFIED" resque -C fx checkpoint --size 3 && test ! -s "$OUT" &&
	(cd fx && expect_error 3 "$NOTVERIFIED" resque audit prove 2) && test ! -s "$OUT" &&
	(cd fx && expect_error 3 "$NOTVERIFIED" resque audit consistency 2 6) && test ! -s "$OUT" &&
	repo_state fx >after && compare before after && cmp index.before "$F/index.db" &&
	fx_memory >memory.after && compare memory.before memory.after
'

test_expect_success 'after reindex: the checkpoint is of the real entries, the forged entry fails its proof' '
	expect_success resque -C fx reindex &&
	resque -C fx checkpoint >fx-ck &&
	(cd fx && resque audit prove 2) >fx-pr &&
	(cd nowhere && expect_error 3 "fx-pr" resque audit check --key "$key" --checkpoint ../fx-ck --inclusion ../fx-pr --entry ../fx-forged.json) &&
	(cd nowhere && expect_success resque audit check --key "$key" --checkpoint ../fx-ck --inclusion ../fx-pr --entry ../fx-e2.json) &&
	grep_out "^ok: entry 2 " &&
	"$PY" "$REF" root "$F" 6 >fx-want && sed -n 3p fx-ck >fx-got && compare fx-want fx-got
'

test_expect_success 'the same forgery with verify'"'"'s memory present: still refused' '
	expect_success resque -C fx verify &&
	forge_leaf fx-forged.json 2 && repo_state fx >before &&
	expect_error 3 "$NOTVERIFIED" resque -C fx checkpoint && test ! -s "$OUT" &&
	(cd fx && expect_error 3 "$NOTVERIFIED" resque audit prove 2) && test ! -s "$OUT" &&
	repo_state fx >after && compare before after &&
	expect_success resque -C fx reindex
'

test_expect_success 'an edited inner node (level 2): checkpoint refuses naming index.db; proofs through it are not printed' '
	expect_success resque -C fx verify &&
	sql "UPDATE merkle SET hash=zeroblob(32) WHERE level=2 AND idx=0" && repo_state fx >before &&
	expect_error 3 "$EDITED" resque -C fx checkpoint && test ! -s "$OUT" &&
	(cd fx && expect_error 3 "the inclusion proof of entry 5 in the tree of 6 entries does not verify against the root of the verified ledger" resque audit prove 5) &&
	test ! -s "$OUT" && grep_err "run .resque reindex." &&
	(cd fx && expect_error 3 "$NOTVERIFIED" resque audit consistency 4 6) && test ! -s "$OUT" &&
	(cd fx && expect_success resque audit prove 1) && cp "$OUT" fx-pr1 &&
	repo_state fx >after && compare before after &&
	expect_success resque -C fx reindex && expect_success resque -C fx checkpoint && compare fx-ck "$OUT" &&
	git --git-dir="$F" show ledger~4:entry >fx-e1.json &&
	(cd nowhere && expect_success resque audit check --key "$key" --checkpoint ../fx-ck --inclusion ../fx-pr1 --entry ../fx-e1.json) &&
	(cd fx && expect_success resque audit prove 5)
'

test_expect_success 'a deleted Merkle row: refused, naming index.db' '
	sql "DELETE FROM merkle WHERE level=1 AND idx=2" && repo_state fx >before &&
	expect_error 3 "$EDITED" resque -C fx checkpoint && test ! -s "$OUT" &&
	expect_success resque -C fx reindex &&
	sql "DELETE FROM merkle WHERE level=0 AND idx=3" &&
	expect_error 3 "$NOTVERIFIED" resque -C fx checkpoint && test ! -s "$OUT" &&
	(cd fx && expect_error 3 "$NOTVERIFIED" resque audit prove 3) && test ! -s "$OUT" &&
	repo_state fx >after && compare before after &&
	expect_success resque -C fx reindex && expect_success resque -C fx checkpoint && compare fx-ck "$OUT"
'

test_expect_success 'a ledger rolled back since verify saw it: refused' '
	cp -r fx fxr && git --git-dir=fxr/.resque update-ref refs/heads/ledger "$(git --git-dir=fxr/.resque rev-parse ledger~2)" &&
	repo_state fxr >before &&
	expect_error 3 "ledger rolled back from 6 to 4 entries" resque -C fxr checkpoint && test ! -s "$OUT" &&
	(cd fxr && expect_error 3 "ledger rolled back from 6 to 4 entries" resque audit prove 1) &&
	repo_state fxr >after && compare before after
'

test_done
