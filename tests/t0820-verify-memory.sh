#!/bin/sh
# resque verify remembers each repository's largest verified tree under
# $RESQUE_HOME (known_ledgers, known/ID.leaves) and checks --checkpoint:
# rollback and rewrite with plain git are integrity violations (exit 3)
# that name the first differing entry; the memory files themselves.
. "$(dirname "$0")/lib.sh"

G=proj/.resque
git_() { git --git-dir="$G" "$@"; }
KNOWN="$RESQUE_HOME/known_ledgers"

# RFC 9162 by hand, from the entries as git holds them: the leaf hashes of
# the ledger at $1 (hex, one a line) and the base64 root of the first $2.
cat >tree.py <<'EOF'
import base64, hashlib, subprocess, sys
gd = sys.argv[1]
commits = subprocess.run(['git', '--git-dir=' + gd, 'rev-list', '--reverse', 'ledger'],
                         stdout=subprocess.PIPE, check=True).stdout.split()
leaves = [hashlib.sha256(b'\0' + subprocess.run(['git', '--git-dir=' + gd, 'show', c.decode() + ':entry'],
          stdout=subprocess.PIPE, check=True).stdout).digest() for c in commits]
def mth(v):
    if len(v) == 1: return v[0]
    k = 1
    while k * 2 < len(v): k *= 2
    return hashlib.sha256(b'\1' + mth(v[:k]) + mth(v[k:])).digest()
if sys.argv[2] == 'leaves':
    sys.stdout.write(''.join(h.hex() + '\n' for h in leaves))
else:
    n = int(sys.argv[2])
    print(base64.b64encode(mth(leaves[:n]) if n else hashlib.sha256(b'').digest()).decode())
EOF
root_of() { "$PY" tree.py "$G" "$1"; }
genesis_entry() { git_ show "$(git_ rev-list --max-parents=0 ledger):entry"; }
rid() { genesis_entry | json_get /dev/stdin 'd["body"]["repository"]'; }
genesis() { genesis_entry | sha256sum | cut -d" " -f1; }
leaves_file() { echo "$RESQUE_HOME/known/$(rid).leaves"; }

test_expect_success 'setup: init remembers the genesis, each writer what it appended' '
	resque key gen >/dev/null && expect_success resque init proj &&
	echo "$(rid) $(genesis) 1 $(root_of 1)" >expect && grep -v "^#" "$KNOWN" >actual && compare expect actual &&
	for m in one two three four five; do resque -C proj note -m "$m" >/dev/null || return 1; done &&
	echo "$(rid) $(genesis) 6 $(root_of 6)" >expect && grep -v "^#" "$KNOWN" >actual && compare expect actual &&
	expect_success resque -C proj verify && grep_out "^ok: 6 entries verified" &&
	id=$(rid) && echo "$id $(genesis) 6 $(root_of 6)" >expect &&
	grep -v "^#" "$KNOWN" >actual && compare expect actual &&
	"$PY" tree.py "$G" leaves >expect && od -An -tx1 -v "$(leaves_file)" | tr -d " \n" | fold -w64 >actual &&
	echo >>actual && compare expect actual
'

test_expect_success 'verify --json: tree, remembered and pinned genesis' '
	expect_success resque -C proj verify --json &&
	test "$(json_get "$OUT" "d[\"tree\"][\"root\"]")" = "$(root_of 6)" &&
	test "$(json_get "$OUT" "d[\"tree\"][\"size\"]")" = 6 &&
	test "$(json_get "$OUT" "d[\"remembered\"][\"size\"]")" = 6 &&
	test "$(json_get "$OUT" "d[\"remembered\"][\"updated\"]")" = False &&
	test "$(json_get "$OUT" "d[\"pinned_genesis\"]")" = "$(genesis)" &&
	test "$(json_get "$OUT" "d[\"checkpoint\"]")" = None &&
	test "$(json_get "$OUT" "sorted(d)")" = "$(json_get "$OUT" "sorted(set(d) | {\"ok\", \"entries\", \"signers\", \"tip\", \"index_rebuilt\", \"problems\"})")"
'

test_expect_success 'the memory grows with the ledger (leaves appended)' '
	resque -C proj note -m six >/dev/null && resque -C proj note -m seven >/dev/null &&
	expect_success resque -C proj verify --json &&
	test "$(json_get "$OUT" "d[\"remembered\"][\"size\"]")" = 8 &&
	grep -q " 8 $(root_of 8)\$" "$KNOWN" && test "$(wc -c <"$(leaves_file)")" = 256 &&
	git_ rev-parse ledger >orig && cp "$KNOWN" known.orig
'

test_expect_success 'a ledger rolled back with plain git: exit 3, memory kept' '
	git_ update-ref refs/heads/ledger ledger~3 && repo_state proj >before &&
	expect_failure 3 resque -C proj verify &&
	grep_out "^ledger rolled back from 8 to 5 entries" && grep_err "verification failed: 1 problem" &&
	repo_state proj >after && compare before after && compare known.orig "$KNOWN" &&
	expect_failure 3 resque -C proj verify --json &&
	test "$(json_get "$OUT" "d[\"ok\"]")" = False &&
	test "$(json_get "$OUT" "d[\"problems\"][0][\"seq\"]")" = None &&
	git_ update-ref refs/heads/ledger "$(cat orig)" && expect_success resque -C proj verify
'

test_expect_success 'a saved checkpoint: the ledger extends it' '
	expect_success resque -C proj checkpoint && cp "$OUT" cp8 &&
	resque -C proj note -m eight >/dev/null &&
	expect_success resque -C proj verify --checkpoint cp8 &&
	grep_out "^checkpoint cp8: the ledger extends it \(8 of 9 entries\)" &&
	expect_success resque -C proj verify --checkpoint cp8 --json &&
	test "$(json_get "$OUT" "d[\"checkpoint\"][\"consistent\"]")" = True &&
	test "$(json_get "$OUT" "d[\"checkpoint\"][\"size\"]")" = 8 &&
	test "$(json_get "$OUT" "d[\"checkpoint\"][\"root\"]")" = "$(root_of 8)" &&
	git_ rev-parse ledger >orig
'

test_expect_success 'rollback caught by the checkpoint alone (--forget)' '
	git_ update-ref refs/heads/ledger ledger~4 && repo_state proj >before &&
	expect_failure 3 resque -C proj verify --checkpoint cp8 --forget &&
	grep_out "^ledger rolled back from 8 to 5 entries \(checkpoint cp8\)" &&
	! grep -q "since it was last verified" "$OUT" &&
	grep_err "forgot what was remembered of repository $(rid)" &&
	repo_state proj >after && compare before after &&
	! grep -q "^$(rid) " "$KNOWN" && test ! -e "$(leaves_file)" &&
	git_ update-ref refs/heads/ledger "$(cat orig)" &&
	expect_success resque -C proj verify && grep -q "^$(rid) $(genesis) 9 " "$KNOWN"
'

test_expect_success 'history rewritten: the first differing entry is named' '
	rm -rf fork && cp -r proj fork &&
	git --git-dir=fork/.resque update-ref refs/heads/ledger ledger~3 &&
	# rewritten elsewhere (this home refuses to write on a rewritten ledger)
	mkdir -p "$SCRATCH/forker" && cp -r "$RESQUE_HOME/keys" "$SCRATCH/forker/" &&
	RESQUE_HOME="$SCRATCH/forker" resque -C fork note -m "a different sixth" >/dev/null &&
	for m in x y z w; do RESQUE_HOME="$SCRATCH/forker" resque -C fork note -m "$m" >/dev/null || return 1; done &&
	repo_state fork >before && cp "$KNOWN" known.before &&
	expect_failure 3 resque -C fork verify &&
	grep_out "^entry 6 \([0-9a-f]{12}\): history rewritten at entry 6: it is not the entry verified there before" &&
	grep_err "verification failed: 1 problem" &&
	expect_failure 3 resque -C fork verify --json &&
	test "$(json_get "$OUT" "d[\"problems\"][0][\"seq\"]")" = 6 &&
	test "$(json_get "$OUT" "d[\"problems\"][0][\"id\"]")" = "$(RESQUE_HOME="$SCRATCH/forker" resque -C fork log --json | json_get /dev/stdin "[e[\"id\"] for e in d if e[\"seq\"] == 6][0]")" &&
	repo_state fork >after && compare before after && compare known.before "$KNOWN"
'

test_expect_success 'a shorter rewritten ledger: rolled back and rewritten' '
	git --git-dir=fork/.resque rev-parse ledger >fork.tip &&
	git --git-dir=fork/.resque update-ref refs/heads/ledger ledger~4 &&
	expect_failure 3 resque -C fork verify &&
	grep_out "^ledger rolled back from 9 to 7 entries" && grep_out "history rewritten at entry 6" &&
	grep_err "2 problems"
'

test_expect_success 'history rewritten against a checkpoint: named via the memory, else by root' '
	git --git-dir=fork/.resque update-ref refs/heads/ledger "$(cat fork.tip)" &&
	expect_failure 3 resque -C fork verify --checkpoint cp8 &&
	grep_out "history rewritten at entry 6: the first 8 entries do not hash to the root of checkpoint cp8" &&
	expect_failure 3 resque -C fork verify --checkpoint cp8 --forget &&
	grep_out "^ledger: the first 8 entries do not hash to the root of checkpoint cp8" &&
	expect_failure 3 resque -C fork verify --checkpoint cp8 --json &&
	test "$(json_get "$OUT" "d[\"checkpoint\"][\"consistent\"]")" = False &&
	test "$(json_get "$OUT" "d[\"remembered\"]")" = None &&
	expect_success resque -C proj verify && grep -q "^$(rid) $(genesis) 9 " "$KNOWN"
'

test_expect_success 'a checkpoint of another repository, or edited, is rejected (exit 3)' '
	expect_success resque init other && resque -C other checkpoint >cp-other &&
	repo_state proj >before &&
	expect_failure 3 resque -C proj verify --checkpoint cp-other &&
	grep_out "checkpoint cp-other is of .resque/[0-9a-f]+., not of this ledger" &&
	sed "2s/.*/7/" cp8 >cp-edited &&
	expect_failure 3 resque -C proj verify --checkpoint cp-edited &&
	grep_out "checkpoint cp-edited is not signed by any signer of this ledger" &&
	repo_state proj >after && compare before after
'

test_expect_success 'an unreadable or malformed checkpoint file: exit 1 naming it' '
	repo_state proj >before && cp "$KNOWN" known.before &&
	expect_error 1 "missing-cp" resque -C proj verify --checkpoint missing-cp &&
	head -c 40 cp8 >cp-trunc && expect_error 1 "cp-trunc: " resque -C proj verify --checkpoint cp-trunc &&
	test "$(wc -l <"$ERR")" = 1 &&
	printf "not a checkpoint\n" >cp-junk && expect_error 1 "cp-junk: " resque -C proj verify --checkpoint cp-junk &&
	test ! -s "$OUT" &&
	head -c 70000 /dev/zero | tr "\0" a >cp-big &&
	expect_error 1 "cp-big: larger than 65536 bytes" resque -C proj verify --checkpoint cp-big &&
	repo_state proj >after && compare before after && compare known.before "$KNOWN"
'

test_expect_success 'a corrupt memory file: exit 1 naming it, --forget repairs it' '
	cp "$KNOWN" known.good && repo_state proj >before &&
	sed -i "s/^\([0-9a-f]*\) \([0-9a-f]*\) 9 /\1 \2 nine /" "$KNOWN" &&
	expect_error 1 "$KNOWN: line 2 is malformed" resque -C proj verify &&
	grep_err "resque verify --forget" && test ! -s "$OUT" &&
	repo_state proj >after && compare before after &&
	expect_success resque -C proj verify --forget && grep -q "^$(rid) $(genesis) 9 " "$KNOWN" &&
	! grep -q nine "$KNOWN"
'

test_expect_success 'a corrupt leaves file: exit 1 naming it' '
	cp "$(leaves_file)" leaves.good &&
	head -c 100 leaves.good >"$(leaves_file)" &&
	expect_error 1 "$(leaves_file): holds 3 leaf hashes, fewer than the 9" resque -C proj verify &&
	: flip the first byte: 0xff unless it is 0xff already, 1 time in 256 &&
	if [ "$(head -c 1 leaves.good | od -An -tu1 | tr -d " ")" = 255 ]; then b="\376"; else b="\377"; fi &&
	{ printf "$b"; tail -c +2 leaves.good; } >"$(leaves_file)" &&
	expect_error 1 "$(leaves_file): the leaf hashes do not hash to the root" resque -C proj verify &&
	cp leaves.good "$(leaves_file)" && printf "extra leaves of an interrupted update..." >>"$(leaves_file)" &&
	expect_success resque -C proj verify &&
	resque -C proj note -m ten >/dev/null && expect_success resque -C proj verify &&
	test "$(wc -c <"$(leaves_file)")" = 320 && grep -q " 10 $(root_of 10)\$" "$KNOWN"
'

test_expect_success 'RESQUE_HOME not writable: verify works and warns once' '
	printf "a file\n" >notadir && cp "$KNOWN" known.before &&
	RESQUE_HOME="$SCRATCH/notadir/home" expect_success resque -C proj verify &&
	grep_out "^ok: 10 entries verified" && test "$(grep -c . "$ERR")" = 1 &&
	grep_err "^warning: could not remember this ledger" &&
	compare known.before "$KNOWN"
'

test_expect_success !ROOT 'a read-only RESQUE_HOME' '
	mkdir ro && chmod 555 ro &&
	RESQUE_HOME="$SCRATCH/ro" expect_success resque -C proj verify &&
	test "$(grep -c . "$ERR")" = 1 && grep_err "^warning: could not remember" && chmod 755 ro
'

test_expect_success 'an unchanged ledger rewrites nothing' '
	cp "$KNOWN" known.before && ls -i "$KNOWN" >inode.before &&
	expect_success resque -C proj verify && test ! -s "$ERR" &&
	ls -i "$KNOWN" >inode.after && compare inode.before inode.after && compare known.before "$KNOWN"
'

test_expect_success 'verify --help documents the new options' '
	expect_success resque verify --help &&
	grep_out "[-]-checkpoint FILE" && grep_out "[-]-forget" && grep_out "[-]-keys FILE" &&
	grep_out "known_ledgers"
'

test_done
