#!/bin/sh
# Every command guards the chain (issue 11, item 2): each command that reads
# or writes first checks the ledger's tip against the last verified one
# remembered under $RESQUE_HOME, verifies the entries new since, and refuses
# with exit 3 naming the entry (or the rollback) when the tip is not a
# descendant of the verified one or a new entry fails; writers then change
# nothing. Legitimate entries appended by another resque process are
# accepted, a copied repository works, and a first command without memory
# verifies the whole ledger.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

G="$SCRATCH/proj/.resque"
git_() { git --git-dir="$G" "$@"; }

mkemb() { # OUT-PREFIX SEED: embeddings (300×8 float32) and labels for 3 classes
	"$PY" - "$@" <<-'PYEOF'
	import sys, numpy as np
	out, seed = sys.argv[1], int(sys.argv[2])
	g = np.random.default_rng(seed)
	y = g.integers(0, 3, 300)
	x = np.random.default_rng(7).standard_normal((3, 8))[y] * 2 + g.standard_normal((300, 8))
	np.save(out + "-emb.npy", x.astype(np.float32))
	np.save(out + "-lab.npy", y.astype(np.int64))
	PYEOF
}

# Every command, "LABEL<TAB>w|r<TAB>COMMAND" (w: appends to the ledger),
# run with eval in the project directory.
cat >commands <<'EOF'
show	r	resque show v1
show --json	r	resque show v1 --json
log	r	resque log
log --json	r	resque log --json -n 3
plan --dry-run	r	resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run
report	r	resque report
checkpoint	r	resque checkpoint
audit prove	r	resque audit prove v1
dataset show	r	resque dataset show train
dataset status	r	resque dataset status train
verify	r	resque verify
note	w	resque note -m "a note"
commit	w	resque commit --weights w2.bin --name "v$(date +%s%N)" --parent v1 --cost cost1.json
plan	w	resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy
record	w	resque record --plan "$P1" --epochs 3 --energy-kwh 1
dataset add	w	resque dataset add --name "d$(date +%s%N)" data
key add	w	h="$SCRATCH/k$(date +%s%N)"; RESQUE_HOME="$h" resque key gen >/dev/null && resque key add "$(ls "$h"/keys/*.pub)" --name "k${h##*/k}"
EOF

# each_command PREDICATE: runs every command in $P (default proj), then
# PREDICATE LABEL KIND (with $OUT, $ERR, $RC set); the failures are listed
# together.
P="$SCRATCH/proj"
each_command() {
	: >"$SCRATCH/bad"
	while IFS='	' read -r label kind cmd; do
		repo_state "$P" >"$SCRATCH/before"
		(cd "$P" && eval "$cmd") >"$OUT" 2>"$ERR" </dev/null
		RC=$?
		if crashed "$RC" || grep -q -e Sanitizer -e 'runtime error' "$ERR"; then
			echo "$label: crashed (exit $RC)" >>"$SCRATCH/bad"
			continue
		fi
		"$1" "$label" "$kind" >>"$SCRATCH/bad" 2>&1
	done <"$SCRATCH/commands"
	if [ -s "$SCRATCH/bad" ]; then
		sed 's/^/  /' "$SCRATCH/bad" >&2
		return 1
	fi
}
show_err() { sed 's/^/    stderr: /' "$ERR" | head -4; }
# refused_naming REGEX: exit 3, stdout or stderr matching REGEX, nothing changed
refused() {
	if [ "$RC" != 3 ]; then
		echo "$1: exit $RC, expected 3 /$WANT/"
		show_err
	elif ! cat "$OUT" "$ERR" | grep -q -E "$WANT"; then
		echo "$1: exit 3 without saying /$WANT/"
		show_err
	fi
	repo_state "$P" >"$SCRATCH/after"
	cmp -s "$SCRATCH/before" "$SCRATCH/after" || echo "$1: the ledger changed although the chain is not verified"
}
works() {
	if [ "$RC" != 0 ]; then
		echo "$1: exit $RC, expected 0"
		show_err
	fi
}
restore() { git_ update-ref refs/heads/ledger "$(cat "$SCRATCH/orig")"; }
tip() { git_ rev-parse ledger; }
seq_next() { git_ rev-list --count ledger; } # the sequence number of an entry appended now
# An entry appended with git plumbing after the tip: ENTRY-FILE [SIG-FROM-COMMIT]
append_raw() {
	_b=$(git_ hash-object -w "$1") &&
	{
		[ -n "${2:-}" ] && git_ ls-tree "$2" | grep "	sig$"
		printf '100644 blob %s\tentry\n' "$_b"
	} | git_ mktree >"$SCRATCH/tree" &&
	_c=$(echo plain git | git_ commit-tree "$(cat "$SCRATCH/tree")" -p "$(tip)") &&
	git_ update-ref refs/heads/ledger "$_c"
}
# note_entry SEQ PREV-ID MESSAGE: a canonical note, as resque would write it
note_entry() {
	"$PY" - "$@" "$OWNER" <<-\PYEOF
	import json, sys
	seq, prev, msg, owner = sys.argv[1:]
	d = {"body": {"message": msg}, "prev": prev, "seq": int(seq), "signer": owner,
	     "time": "2026-01-02T03:04:05Z", "type": "note", "v": 1}
	sys.stdout.write(json.dumps(d, sort_keys=True, separators=(",", ":")))
	PYEOF
}
tip_id() { git_ show ledger:entry | sha256sum | cut -d' ' -f1; }
# graft COPY: the ledger of a copy of proj (made with cp -r, then appended
# to) becomes proj's, with plain git: its objects copied, the ref set.
graft() { git_ fetch -q "$1/.resque" "+refs/heads/ledger:refs/heads/ledger"; }
# fork: a copy of proj in fork/ with its own RESQUE_HOME (the same keys, no
# memory), so that what is appended to the fork never reaches the memory of
# proj's RESQUE_HOME (the copy has proj's repository id); in_fork CMD runs
# CMD with that RESQUE_HOME.
fork() {
	rm -rf "$SCRATCH/fork" "$SCRATCH/forkhome" && cp -r "$SCRATCH/proj" "$SCRATCH/fork" &&
	mkdir -p "$SCRATCH/forkhome" && cp -r "$RESQUE_HOME/keys" "$SCRATCH/forkhome/"
}
in_fork() { RESQUE_HOME="$SCRATCH/forkhome" "$@"; }

test_expect_success 'setup: a repository with a version, a plan, a dataset; verified' '
	resque key gen >/dev/null && RESQUE_HOME="$SCRATCH/stranger" resque key gen >/dev/null &&
	RESQUE_HOME="$SCRATCH/bob" resque key gen >/dev/null &&
	BOBPUB=$(ls "$SCRATCH"/bob/keys/*.pub) && OWNER=$(sed -n "s/^id //p" "$RESQUE_HOME"/keys/*.pub) &&
	expect_success resque init proj && cd proj &&
	printf w1 >w1.bin && printf w2 >w2.bin && mkemb d1 1 && mkemb d2 2 &&
	mkdir data && printf "a" >data/a && printf "b" >data/b &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"intensity_g_per_kwh\": 100}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --json &&
	P1=$(json_get "$OUT" "d[\"plans\"][0][\"id\"]") &&
	expect_success resque dataset add --name train data &&
	for m in one two three; do resque note -m "$m" >/dev/null || return 1; done &&
	expect_success resque verify && tip >"$SCRATCH/orig" && test "$(seq_next)" = 7
'

test_expect_success 'every command works on the verified ledger (and again after it grew)' '
	restore && each_command works && tip >"$SCRATCH/orig" && each_command works && tip >"$SCRATCH/orig"
'

test_expect_success 'a ledger rolled back with plain git: every command refuses (exit 3, rollback named)' '
	restore && expect_success resque -C proj verify &&
	git_ update-ref refs/heads/ledger ledger~2 &&
	WANT="rolled back" && each_command refused
'

test_expect_success 'an unsigned entry appended with plain git: every command refuses, naming it' '
	restore && expect_success resque -C proj verify && n=$(seq_next) &&
	note_entry "$n" "$(tip_id)" "unsigned" >unsigned.json && append_raw unsigned.json &&
	WANT="entry $n" && each_command refused
'

test_expect_success 'an entry with a bad signature appended with plain git: refused, named' '
	restore && n=$(seq_next) &&
	note_entry "$n" "$(tip_id)" "bad signature" >badsig.json && append_raw badsig.json "$(tip)" &&
	WANT="entry $n" && each_command refused
'

test_expect_success 'a signed entry that breaks the chain (taken from a fork): refused, named' '
	restore && n=$(seq_next) && fork &&
	in_fork resque -C fork note -m "fork 1" >/dev/null && in_fork resque -C fork note -m "fork 2" >/dev/null &&
	t=$(git --git-dir=fork/.resque rev-parse "ledger^{tree}") && graft fork &&
	restore && c=$(echo plain git | git_ commit-tree "$t" -p "$(tip)") && git_ update-ref refs/heads/ledger "$c" &&
	WANT="entry $n" && each_command refused
'

test_expect_success 'an entry signed by a key that is not a signer: refused, named' '
	restore && n=$(seq_next) && fork &&
	in_fork rq-forge fork/.resque "$(ls "$SCRATCH"/stranger/keys/*.key)" "forged" && graft fork &&
	WANT="entry $n" && each_command refused
'

test_expect_success 'two bad entries appended with plain git: the first is named' '
	restore && n=$(seq_next) &&
	note_entry "$n" "$(tip_id)" "first" >first.json && append_raw first.json &&
	note_entry $((n + 1)) "$(tip_id)" "second" >second.json && append_raw second.json &&
	test "$(seq_next)" = $((n + 2)) &&
	WANT="entry $n" && each_command refused
'

test_expect_success 'entries appended by another resque process, same RESQUE_HOME: accepted' '
	restore && expect_success resque -C proj verify &&
	echo "{\"message\": \"from a library user\"}" | rq-append proj/.resque note >/dev/null &&
	echo "{\"message\": \"and another\"}" | rq-append proj/.resque note >/dev/null &&
	each_command works && tip >"$SCRATCH/orig"
'

test_expect_success 'entries appended under another RESQUE_HOME (a second signer): accepted' '
	restore && expect_success resque -C proj key add "$BOBPUB" --name bob &&
	RESQUE_HOME="$SCRATCH/bob" expect_success resque -C proj note -m "bob here" &&
	RESQUE_HOME="$SCRATCH/bob" expect_success resque -C proj note -m "bob again" &&
	each_command works && tip >"$SCRATCH/orig"
'

test_expect_success 'a repository copied with cp -r works from the copy' '
	restore && rm -rf copy && cp -r proj copy && P="$SCRATCH/copy" &&
	each_command works; rc=$?
	P="$SCRATCH/proj" && test $rc = 0 &&
	rm -rf proj && mv copy proj && tip >"$SCRATCH/orig" && each_command works && tip >"$SCRATCH/orig"
'

test_expect_success 'no memory yet (a fresh RESQUE_HOME): the first command verifies all, and works' '
	restore && saved=$RESQUE_HOME &&
	for label in "show" "log" "note" "checkpoint"; do
		rm -rf "$SCRATCH/fresh" && mkdir -p "$SCRATCH/fresh" && cp -r "$saved/keys" "$SCRATCH/fresh/" &&
		cmd=$(grep "^$label	" "$SCRATCH/commands" | cut -f3) && test -n "$cmd" &&
		(cd proj && RESQUE_HOME="$SCRATCH/fresh" && export RESQUE_HOME && eval "$cmd") >"$OUT" 2>"$ERR" ||
			{ echo "$label with a fresh RESQUE_HOME: exit $?" >&2; cat "$ERR" >&2; return 1; }
	done &&
	tip >"$SCRATCH/orig" &&
	RESQUE_HOME="$SCRATCH/fresh" && each_command works; rc=$?
	RESQUE_HOME=$saved; tip >"$SCRATCH/orig"; test $rc = 0
'

test_expect_success 'no memory yet and a forged entry: the first command refuses (exit 3, named)' '
	restore && n=$(seq_next) && fork &&
	in_fork rq-forge fork/.resque "$(ls "$SCRATCH"/stranger/keys/*.key)" "forged" && graft fork &&
	saved=$RESQUE_HOME && : >"$SCRATCH/bad2" &&
	for label in "show" "log" "note" "checkpoint" "plan --dry-run"; do
		rm -rf "$SCRATCH/fresh" && mkdir -p "$SCRATCH/fresh" && cp -r "$saved/keys" "$SCRATCH/fresh/" &&
		cmd=$(grep "^$label	" "$SCRATCH/commands" | cut -f3) && test -n "$cmd" && before=$(repo_state proj) &&
		(cd proj && RESQUE_HOME="$SCRATCH/fresh" && export RESQUE_HOME && eval "$cmd") >"$OUT" 2>"$ERR"
		rc=$?
		if [ $rc != 3 ] || ! grep -q "entry $n" "$OUT" "$ERR"; then
			echo "$label with a fresh RESQUE_HOME: exit $rc, expected 3 naming entry $n" >>"$SCRATCH/bad2"
		fi
		[ "$(repo_state proj)" = "$before" ] || echo "$label: the ledger changed" >>"$SCRATCH/bad2"
	done &&
	restore && ! test -s "$SCRATCH/bad2" || { cat "$SCRATCH/bad2" >&2; return 1; }
'

test_expect_success 'after a refusal, restoring the verified tip makes every command work again' '
	restore && each_command works
'

test_done
