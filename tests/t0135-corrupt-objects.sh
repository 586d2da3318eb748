#!/bin/sh
# Corrupt objects in .resque/objects: a loose object truncated at every
# length (libgit2 1.5 spun forever on most of them), a truncated or flipped
# pack, missing objects and a missing tip, and entry trees of the wrong
# shape (extra files, folders, modes) end in exit 3 naming the object and
# the entry, within seconds: each run is under `timeout 20`, so a hang is
# a failure (exit 124), not a wedged suite.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

G=proj/.resque
git_() { git --git-dir="$G" "$@"; }
rq() { timeout 20 resque -C proj "$@"; }
# The file of a loose object.
objfile() { echo "$G/objects/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-)"; }
# Put back the repository as it was after setup.
restore() { rm -rf "$G" && cp -a pristine "$G"; }
# OUT and ERR together must match the extended regex $1.
says() {
	cat "$OUT" "$ERR" | grep -q -E -e "$1" ||
		{ say "output lacks /$1/:"; cat "$OUT" "$ERR" | sed 's/^/  /' >&2; return 1; }
}
# flip FILE POS: invert the byte at POS.
flip() {
	"$PY" -c 'import sys; p = int(sys.argv[2]); d = bytearray(open(sys.argv[1], "rb").read()); d[p] ^= 0xff; open(sys.argv[1], "wb").write(d)' "$1" "$2"
}
# truncations OBJECT PATTERN [CMD...]: for every length from 0 to the
# file's size - 1 of the loose OBJECT, `verify` exits 3 and says PATTERN,
# and CMD, when given, exits 3 naming the object (at every 8th length and
# the first and last three: each run costs time); the object is put back.
truncations() {
	_f=$(objfile "$1") _pat=$2 _obj="object $(echo "$1" | cut -c1-12) is corrupt"
	shift 2
	_s=$(wc -c <"$_f") _l=0
	cp "$_f" saved && chmod u+w "$_f" || return 1
	while [ "$_l" -lt "$_s" ]; do
		head -c "$_l" saved >"$_f" || return 1
		expect_failure 3 rq verify && says "$_pat" || { say "(truncated to $_l of $_s bytes)"; return 1; }
		if [ $# -gt 0 ] && { [ $((_l % 8)) = 0 ] || [ "$_l" -lt 3 ] || [ "$_l" -ge $((_s - 3)) ]; }; then
			expect_failure 3 rq "$@" && says "$_obj" || { say "($* at $_l of $_s bytes)"; return 1; }
		fi
		_l=$((_l + 1))
	done
	cp saved "$_f"
}
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
# shape N 'mktree lines' PATTERN: entry N's tree replaced by the tree of
# these lines (TAB between mode and name written as |); verify says PATTERN.
shape() {
	_tree=$(printf "$2" | tr "|" "\t" | git_ mktree) || return 1
	rebuild "$1" "$_tree" &&
	expect_failure 3 rq verify && grep_out "$3" &&
	git_ update-ref refs/heads/ledger "$(cat orig)"
}

test_expect_success 'setup: entries with a version v1 and a dataset with an attachment' '
	expect_success resque init proj &&
	expect_success resque -C proj note -m one &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	expect_success resque -C proj commit --weights "$PWD/w1.safetensors" --name v1 &&
	mkdir -p data/cats && printf "meow" >data/cats/a.jpg && printf "purr" >data/cats/b.jpg &&
	expect_success resque -C proj dataset add "$PWD/data" &&
	expect_success resque -C proj note -m four &&
	expect_success rq verify && grep_out "^ok: 5 entries verified" &&
	git_ rev-parse ledger >orig && trees &&
	c2=$(git_ rev-parse ledger~2) && t2=$(git_ rev-parse ledger~2^{tree}) &&
	e2=$(git_ rev-parse ledger~2:entry) && s2=$(git_ rev-parse ledger~2:sig) &&
	a3=$(git_ rev-parse ledger~1:att) && m3=$(git_ rev-parse ledger~1:att/manifest) &&
	tip=$(git_ rev-parse ledger) && test -f "$(objfile "$e2")" &&
	cp -a "$G" pristine
'

test_expect_success 'an entry file truncated at every length: verify and show say exit 3' '
	truncations "$e2" "entry 2.*its entry file: object $(echo $e2 | cut -c1-12) is corrupt" show v1
'

test_expect_success 'a signature file truncated at every length' '
	truncations "$s2" "entry 2.*its signature file: object $(echo $s2 | cut -c1-12) is corrupt"
'

test_expect_success 'an entry tree truncated at every length: verify and show' '
	truncations "$t2" "entry 2.*object $(echo $t2 | cut -c1-12) is corrupt" show v1
'

test_expect_success 'an attachment folder and an attachment truncated at every length' '
	truncations "$a3" "entry 3.*object $(echo $a3 | cut -c1-12) is corrupt" &&
	truncations "$m3" "entry 3.*attachment .manifest.: object $(echo $m3 | cut -c1-12) is corrupt"
'

test_expect_success 'a ledger commit truncated at every length' '
	truncations "$c2" "object $(echo $c2 | cut -c1-12) is corrupt" show v1
'

test_expect_success 'with index.db gone, log rebuilding it stops at a truncated commit' '
	f=$(objfile "$c2") && chmod u+w "$f" && head -c 40 pristine/objects/$(echo $c2 | cut -c1-2)/$(echo $c2 | cut -c3-) >"$f" &&
	rm -f "$G/index.db" &&
	expect_failure 3 rq log && says "object $(echo $c2 | cut -c1-12) is corrupt: truncated" &&
	restore
'

test_expect_success 'the tip commit truncated or missing: every command exits 3' '
	f=$(objfile "$tip") && chmod u+w "$f" && head -c 30 "pristine/objects/$(echo $tip | cut -c1-2)/$(echo $tip | cut -c3-)" >"$f" &&
	expect_failure 3 rq verify && says "the ledger.s tip: object $(echo $tip | cut -c1-12) is corrupt" &&
	rm -f "$f" &&
	for cmd in verify log "show v1" "note -m x"; do
		expect_failure 3 rq $cmd && says "the ledger.s tip: object $(echo $tip | cut -c1-12) is missing" || return 1
	done &&
	restore && expect_success rq verify
'

test_expect_success 'a missing entry file, signature file, tree or attachment' '
	for o in "$e2" "$s2" "$t2"; do
		rm -f "$(objfile "$o")" &&
		expect_failure 3 rq verify && says "entry 2.*object $(echo $o | cut -c1-12) is missing" &&
		restore || return 1
	done &&
	rm -f "$(objfile "$m3")" &&
	expect_failure 3 rq verify && says "entry 3.*attachment .manifest.: object $(echo $m3 | cut -c1-12) is missing" &&
	restore
'

test_expect_success 'an object replaced by one of another type' '
	f=$(objfile "$e2") && chmod u+w "$f" && cp "$(objfile "$t2")" "$f" &&
	expect_failure 3 rq verify && says "entry 2.*object $(echo $e2 | cut -c1-12) is corrupt: its content does not hash to its id" &&
	restore
'

test_expect_success 'a pack truncated anywhere: exit 3' '
	restore && git_ repack -ad -q && test -z "$(find "$G/objects" -path "*/objects/??/*")" &&
	pack=$(ls "$G"/objects/pack/*.pack) && chmod u+w "$pack" && cp "$pack" pack.saved &&
	expect_success rq verify &&
	size=$(wc -c <pack.saved) && step=$((size / 50 + 1)) && l=0 &&
	for l in $(seq 0 "$step" "$size") 11 12 13 $((size - 21)) $((size - 20)) $((size - 1)); do
		[ "$l" -lt "$size" ] || continue
		head -c "$l" pack.saved >"$pack" &&
		expect_failure 3 rq verify && says "is (corrupt|missing)" ||
			{ say "(pack cut to $l of $size)"; cp pack.saved "$pack"; return 1; }
	done &&
	cp pack.saved "$pack" && expect_success rq verify
'

test_expect_success 'a byte flipped anywhere in the pack: exit 3' '
	size=$(wc -c <pack.saved) && step=$((size / 120 + 1)) &&
	for p in $(seq 0 "$step" $((size - 1))) 0 4 8 11 12 $((size - 20)) $((size - 1)); do
		cp pack.saved "$pack" && flip "$pack" "$p" &&
		expect_failure 3 rq verify && says "is (corrupt|missing)" ||
			{ say "(byte $p of $size flipped)"; cp pack.saved "$pack"; return 1; }
	done &&
	cp pack.saved "$pack" && expect_success rq verify &&
	restore
'

test_expect_success 'entry trees of the wrong shape: extra files, folders, modes' '
	restore &&
	e="100644 blob $e2|entry\n" s="100644 blob $s2|sig\n" &&
	shape 2 "$e$s""100644 blob $e2|extra\n" "^entry 2 .*its tree holds .extra. \\(mode 100644\\)" &&
	shape 2 "$e$s""040000 tree $a3|dir\n" "^entry 2 .*its tree holds .dir. \\(mode 040000\\)" &&
	shape 2 "$e$s""160000 commit $c2|sub\n" "^entry 2 .*its tree holds .sub. \\(mode 160000\\)" &&
	shape 2 "100755 blob $e2|entry\n$s" "^entry 2 .*.entry. in its tree has mode 100755, not 100644" &&
	shape 2 "100664 blob $e2|entry\n$s" "^entry 2 .*.entry. in its tree has mode 100664, not 100644" &&
	shape 2 "$e""120000 blob $s2|sig\n" "^entry 2 .*.sig. in its tree has mode 120000, not 100644" &&
	shape 2 "$e$s$s" "^entry 2 .*its tree holds .sig. more than once" &&
	shape 2 "$e$s""040000 tree $a3|att\n" "^entry 2 .*attachment folder but the entry records no attachments"
'

test_expect_success 'attachment folders of the wrong shape' '
	restore &&
	m="100644 blob $m3|manifest\n" &&
	e3=$(git_ rev-parse ledger~1:entry) && s3=$(git_ rev-parse ledger~1:sig) &&
	top() { printf "100644 blob $e3|entry\n100644 blob $s3|sig\n040000 tree %s|att\n" "$(printf "$1" | tr "|" "\t" | git_ mktree)"; } &&
	shape 3 "$(top "$m""100644 blob $e2|extra\n")\n" "^entry 3 .*attachment .extra. is not recorded in the entry" &&
	shape 3 "$(top "100755 blob $m3|manifest\n")\n" "^entry 3 .*attachment .manifest. has mode 100755, not 100644" &&
	shape 3 "$(top "120000 blob $m3|manifest\n")\n" "^entry 3 .*attachment .manifest. has mode 120000" &&
	shape 3 "$(top "$m""040000 tree $t2|sub\n")\n" "^entry 3 .*attachment .sub. is not recorded" &&
	shape 3 "100644 blob $e3|entry\n100644 blob $s3|sig\n100644 blob $m3|att\n" "^entry 3 .*.att. in its tree has mode 100644, not 040000"
'

test_expect_success 'verify changes nothing in a corrupt repository' '
	restore && rm -f "$(objfile "$e2")" && repo_state proj >before &&
	expect_failure 3 rq verify && repo_state proj >after && compare before after &&
	restore && expect_success rq verify
'

test_done
