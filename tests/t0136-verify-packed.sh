#!/bin/sh
# resque verify reads a packed ledger through its own pack reader (raw
# commits and trees, store/object.c rq_packs_read) and loose objects through
# the guarded reads (store/object.c, libgit2's parse of trees and commits):
# for every shape of ledger, clean or forged, both must report exactly the
# same problems, in the same order, with the same exit status.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

G=proj/.resque
git_() { git --git-dir="$G" "$@"; }
# The trees of the ledger's commits, oldest first, in t.
trees() { git_ rev-list --reverse ledger | while read -r c; do git_ rev-parse "$c^{tree}"; done >t; }
# Replace the ledger by a chain of new commits with the trees of t, the
# tree of entry $1 replaced by $2.
rebuild() {
	_p="" _i=0
	while read -r _t; do
		[ "$_i" = "$1" ] && _t=$2
		if [ -z "$_p" ]; then _p=$(echo forged | git_ commit-tree "$_t") || return 1
		else _p=$(echo forged | git_ commit-tree "$_t" -p "$_p") || return 1; fi
		_i=$((_i + 1))
	done <t
	git_ update-ref refs/heads/ledger "$_p"
}
# both STATUS PATTERN: `verify --json` and `verify` of the ledger as it is
# (loose objects) and of a copy with every object packed, each with an
# empty memory: the same status (STATUS), the same output, which matches
# PATTERN; then the ledger is put back as it was after setup.
both() {
	rm -rf packed h-loose h-packed && mkdir packed && cp -a "$G" packed/.resque &&
	git --git-dir=packed/.resque repack -a -d -q &&
	test -n "$(ls packed/.resque/objects/pack/*.pack)" && : >all.out || return 1
	for _f in "" --json; do
		RESQUE_HOME=$PWD/h-loose expect_failure_or_success "$1" resque -C proj verify $_f &&
		cat "$OUT" "$ERR" >loose.out &&
		RESQUE_HOME=$PWD/h-packed expect_failure_or_success "$1" resque -C packed verify $_f &&
		cat "$OUT" "$ERR" | sed "s,/h-packed/,/h-loose/," >packed.out &&
		compare loose.out packed.out && cat packed.out >>all.out || return 1
	done
	grep -q -E -e "$2" all.out || { say "output lacks /$2/:"; sed 's/^/  /' all.out >&2; return 1; }
	git_ update-ref refs/heads/ledger "$(cat orig)"
}
# expect_failure_or_success STATUS CMD...: CMD exits STATUS (0 or not)
expect_failure_or_success() {
	_st=$1
	shift
	if [ "$_st" = 0 ]; then expect_success "$@"; else expect_failure "$_st" "$@"; fi
}
# shape N 'mktree lines' PATTERN: entry N's tree replaced by the tree of
# these lines (TAB between mode and name written as |); both say PATTERN.
shape() {
	_tree=$(printf "$2" | tr "|" "\t" | git_ mktree) || return 1
	rebuild "$1" "$_tree" && both 3 "$3"
}
# A tree object written as is (entries in the order given, not sorted):
# lines "MODE NAME OID".
raw_tree() {
	"$PY" -c '
import sys
out = b""
for line in sys.stdin.read().splitlines():
    mode, name, oid = line.split(" ")
    out += mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
sys.stdout.buffer.write(out)' | git_ hash-object -t tree -w --literally --stdin
}

test_expect_success 'setup: notes, a version with its summary, a dataset with an attachment' '
	expect_success resque init proj &&
	expect_success resque -C proj note -m one &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	expect_success resque -C proj commit --weights "$PWD/w1.safetensors" --name v1 &&
	mkdir -p data/cats && printf "meow" >data/cats/a.jpg && printf "purr" >data/cats/b.jpg &&
	expect_success resque -C proj dataset add "$PWD/data" &&
	expect_success resque -C proj note -m four &&
	git_ rev-parse ledger >orig && trees &&
	c2=$(git_ rev-parse ledger~2) && t2=$(git_ rev-parse ledger~2^{tree}) &&
	e2=$(git_ rev-parse ledger~2:entry) && s2=$(git_ rev-parse ledger~2:sig) &&
	e3=$(git_ rev-parse ledger~1:entry) && s3=$(git_ rev-parse ledger~1:sig) &&
	a3=$(git_ rev-parse ledger~1:att) && m3=$(git_ rev-parse ledger~1:att/manifest) &&
	both 0 "^ok: 5 entries verified"
'

test_expect_success 'entry trees of the wrong shape: the same problems, packed or loose' '
	e="100644 blob $e2|entry\n" s="100644 blob $s2|sig\n" &&
	shape 2 "$e$s""100644 blob $e2|extra\n" "its tree holds .extra. \\(mode 100644\\)" &&
	shape 2 "$e$s""040000 tree $a3|dir\n" "its tree holds .dir. \\(mode 040000\\)" &&
	shape 2 "$e$s""160000 commit $c2|sub\n" "its tree holds .sub. \\(mode 160000\\)" &&
	shape 2 "100755 blob $e2|entry\n$s" ".entry. in its tree has mode 100755, not 100644" &&
	shape 2 "100664 blob $e2|entry\n$s" ".entry. in its tree has mode 100664, not 100644" &&
	shape 2 "$e""120000 blob $s2|sig\n" ".sig. in its tree has mode 120000, not 100644" &&
	shape 2 "$e$s$s" "its tree holds .sig. more than once" &&
	shape 2 "$e$s""040000 tree $a3|att\n" "attachment folder but the entry records no attachments" &&
	shape 2 "$s" "commit [0-9a-f]+ has no entry file" &&
	shape 2 "$e" "unsigned" &&
	shape 2 "040000 tree $a3|entry\n$s" "its entry file: it is not a file" &&
	shape 2 "$e""040000 tree $a3|sig\n" "its signature file is malformed"
'

test_expect_success 'trees out of git order and with odd names: the same problems' '
	rebuild 2 "$(printf "100644 sig $s2\n100644 entry $e2\n" | raw_tree)" && both 3 "^entry 2 " &&
	rebuild 2 "$(printf "100644 entry $e2\n100644 sig $s2\n100644 sig $s2\n" | raw_tree)" && both 3 "more than once" &&
	rebuild 2 "$(printf "100644 entry $e2\n100644 sig $s2\n100644 zz/x $s2\n" | raw_tree)" &&
	both 3 "its tree holds .zz/x." &&
	rebuild 2 "$(printf "100644 entry $e2\n100644 sig $s2\n644 x $s2\n" | raw_tree)" && both 3 "mode 000644" &&
	rebuild 2 "$(printf "100644 .. $e2\n100644 entry $e2\n100644 sig $s2\n" | raw_tree)" && both 3 "its tree holds"
'

test_expect_success 'attachment folders of the wrong shape: the same problems' '
	m="100644 blob $m3|manifest\n" &&
	top() { printf "100644 blob $e3|entry\n100644 blob $s3|sig\n040000 tree %s|att\n" "$(printf "$1" | tr "|" "\t" | git_ mktree)"; } &&
	shape 3 "$(top "$m""100644 blob $e2|extra\n")\n" "attachment .extra. is not recorded in the entry" &&
	shape 3 "$(top "100755 blob $m3|manifest\n")\n" "attachment .manifest. has mode 100755, not 100644" &&
	shape 3 "$(top "120000 blob $m3|manifest\n")\n" "attachment .manifest. has mode 120000" &&
	shape 3 "$(top "$m""040000 tree $t2|sub\n")\n" "attachment .sub. is not recorded" &&
	shape 3 "$(top "100644 blob $e2|manifest\n")\n" "attachment .manifest. does not match its recorded fingerprint" &&
	shape 3 "$(top "040000 tree $t2|manifest\n")\n" "attachment .manifest. is missing" &&
	shape 3 "100644 blob $e3|entry\n100644 blob $s3|sig\n100644 blob $m3|att\n" ".att. in its tree has mode 100644, not 040000"
'

test_expect_success 'edited entries, a merge and a forged chain: the same problems' '
	new=$(git_ cat-file blob ledger~3:entry | sed "s/\"one\"/\"ONE\"/" | git_ hash-object -w --stdin) &&
	shape 1 "100644 blob $new|entry\n100644 blob $(git_ rev-parse ledger~3:sig)|sig\n" "bad signature" &&
	m=$(echo merge | git_ commit-tree "$(git_ rev-parse ledger^{tree})" -p ledger~1 -p ledger~2) &&
	git_ update-ref refs/heads/ledger "$m" && both 3 "is a merge" &&
	rebuild 9 x && both 0 "^ok: 5 entries verified"
'

test_done
