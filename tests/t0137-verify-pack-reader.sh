#!/bin/sh
# verify's direct reader of packed objects (store/object.c, mapped_read):
# whole objects are read from the mapped pack, deltas and anything damaged
# go to libgit2's pack backend, so a ledger packed either way verifies the
# same, and a damaged object in a pack is named as it was before (exit 3,
# "object ID is corrupt" or "is missing"), the repository left unchanged.
. "$(dirname "$0")/lib.sh"

G=proj/.resque
git_() { git --git-dir="$G" "$@"; }
rq() { timeout 20 resque -C proj "$@"; }
flip() {
	"$PY" -c 'import sys; p = int(sys.argv[2]); d = bytearray(open(sys.argv[1], "rb").read()); d[p] ^= 0xff; open(sys.argv[1], "wb").write(d)' "$1" "$2"
}
# repack WINDOW: every object of the ledger in one pack (WINDOW 0: no
# deltas), the memory of earlier verifies forgotten
repack() {
	rm -rf "$RESQUE_HOME" && chmod -R u+w "$G/objects" &&
	git_ repack -a -d -f -q --window="$1" --depth=50 &&
	test -z "$(find "$G/objects" -path "*/objects/??/*")"
}
# offset OBJECT: where OBJECT starts in the pack
offset() { git_ verify-pack -v "$G"/objects/pack/*.idx | awk -v o="$1" '$1 == o { print $5 }'; }

test_expect_success 'setup: long notes much alike, so that git makes deltas of them' '
	expect_success resque init proj &&
	msg=$("$PY" -c "print(\"the same long message about the training run \" * 40)") &&
	for i in 1 2 3 4 5 6 7 8; do
		expect_success rq note -m "$msg, number $i" || return 1
	done &&
	expect_success rq verify && grep_out "^ok: 9 entries verified"
'

test_expect_success 'a pack without deltas: read directly, verify says the same' '
	repack 0 && ! git_ verify-pack -v "$G"/objects/pack/*.idx | grep -q "chain length" &&
	expect_success rq verify && grep_out "^ok: 9 entries verified" &&
	expect_success rq verify --json && grep_out "\"ok\": true"
'

test_expect_success 'a pack with deltas: those go through libgit2, verify says the same' '
	repack 250 && git_ verify-pack -v "$G"/objects/pack/*.idx | grep -q "chain length" &&
	expect_success rq verify && grep_out "^ok: 9 entries verified"
'

test_expect_success 'a whole entry file damaged inside its pack: exit 3, the object named, nothing changed' '
	repack 0 && e=$(git_ rev-parse ledger~3:entry) && off=$(offset "$e") && test -n "$off" &&
	pack=$(ls "$G"/objects/pack/*.pack) && chmod u+w "$pack" && cp "$pack" pack.saved &&
	flip "$pack" $((off + 6)) && cp -a "$G" before &&
	expect_failure 3 rq verify && grep_out "entry 5.*object $(echo "$e" | cut -c1-12) is" &&
	diff -r before "$G" >/dev/null &&
	cp pack.saved "$pack" && rm -rf "$RESQUE_HOME" && expect_success rq verify
'

test_expect_success 'a signature file and a tree damaged inside their pack: exit 3, named' '
	s=$(git_ rev-parse ledger~1:sig) && t=$(git_ rev-parse ledger~2^{tree}) &&
	for o in "$s" "$t"; do
		cp pack.saved "$pack" && off=$(offset "$o") && test -n "$off" && flip "$pack" $((off + 4)) &&
		rm -rf "$RESQUE_HOME" && expect_failure 3 rq verify &&
		grep_out "object $(echo "$o" | cut -c1-12) is" || return 1
	done &&
	cp pack.saved "$pack" && rm -rf "$RESQUE_HOME" && expect_success rq verify
'

test_done
