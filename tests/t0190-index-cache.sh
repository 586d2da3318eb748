#!/bin/sh
# index.db is a cache, never an authority (issue 11, item 1): every column of
# each table of index.db (entries, meta, merkle) is edited with the sqlite3
# CLI behind resque's back, and no command may be misled by it. For each
# edit and each command the only acceptable outcomes are
#   - exit 3 with a message naming index.db (and `resque reindex`) or the
#     entry, changing nothing in the ledger; after `resque reindex` the same
#     command gives the answer it gave before the edit; or
#   - the answer the command gave before the edit (same exit status, same
#     standard output; a refusal keeps its message).
# Never exit 0 with forged output, never exit 1 where there was none.
# `verify` must report every edit (exit 3; for meta.tip, which is how a
# stale index is recognised, rebuilding the index is right too), and be
# clean after a reindex.
# Each case runs on a fresh copy of one repository (and of its RESQUE_HOME,
# whose memory says the ledger was verified), always at the same path and
# with RESQUE_NOW fixed, so that writers sign byte-identical entries when
# nothing misleads them.
. "$(dirname "$0")/lib.sh"

test_requires SQLITE3 NUMPY

RESQUE_NOW=2026-01-02T03:04:05Z
export RESQUE_NOW
PRISTINE="$SCRATCH/pristine" # p (the repository), home, stranger
C="$SCRATCH/case"            # the copy each case works on
DB="$C/p/.resque/index.db"
BASE="$SCRATCH/base"         # each command's answer before any edit
RES="$SCRATCH/res"
mkdir -p "$BASE" "$RES"

mkemb() { # OUT-PREFIX SEED D SHIFT: embeddings (N×D float32) and labels for 3 classes
	"$PY" - "$@" <<-'PYEOF'
	import sys, numpy as np
	out, seed, d, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
	g = np.random.default_rng(seed)
	y = g.integers(0, 3, 300)
	centres = np.random.default_rng(7).standard_normal((3, d)) * 2
	x = centres[y] + g.standard_normal((300, d)) + shift * g.standard_normal(d)
	np.save(out + "-emb.npy", x.astype(np.float32))
	np.save(out + "-lab.npy", y.astype(np.int64))
	PYEOF
}

# The commands that must not be misled, "LABEL<TAB>COMMAND" (run with eval in
# $C/p, RESQUE_HOME=$C/home). Written by the setup once the ids are known.
write_commands() {
	{
		printf 'show v1\tresque show v1\n'
		printf 'show v1 --json\tresque show v1 --json\n'
		printf 'show v2 --json\tresque show v2 --json\n'
		printf 'show actual --json\tresque show %s --json\n' "$A1"
		printf 'show import --json\tresque show %s --json\n' "$IMP"
		printf 'show note\tresque show %s\n' "$NOTE"
		printf 'log\tresque log\n'
		printf 'log --json\tresque log --json\n'
		printf 'plan (signs its forecast)\tresque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family noise --json\n'
		printf 'import codecarbon duplicate\tresque import codecarbon e.csv\n'
		printf 'commit --actual\tresque commit --weights w3.bin --name v3 --parent v2 --actual %s --json\n' "$A1"
		printf 'commit by a stranger\tRESQUE_HOME="$C/stranger" resque commit --weights w3.bin --name vs\n'
		printf 'note by a stranger\tRESQUE_HOME="$C/stranger" resque note -m intruder\n'
		printf 'checkpoint\tresque checkpoint\n'
		printf 'audit prove v1\tresque audit prove v1\n'
		printf 'report --format json\tresque report --format json\n'
	} >"$SCRATCH/commands"
}

fresh() { rm -rf "$C" && cp -r "$PRISTINE" "$C"; }
# prepare NAME: the case copy with edit_NAME made. Copying is slow here, so
# when the last command left the ledger as it was, only index.db (as edited)
# and the RESQUE_HOMEs are put back.
prepare() {
	if [ "${_prep:-}" = "$1" ] && repo_state "$C/p" >"$SCRATCH/st" && cmp -s "$SCRATCH/st" "$SCRATCH/edited.state"; then
		cp "$SCRATCH/edited.db" "$DB" && rm -f "$DB-wal" "$DB-shm" && rm -rf "$C/home" "$C/stranger" &&
			cp -r "$PRISTINE/home" "$PRISTINE/stranger" "$C/"
		return
	fi
	_prep=
	fresh && "edit_$1" >/dev/null 2>&1 || return 1
	cp "$DB" "$SCRATCH/edited.db" && repo_state "$C/p" >"$SCRATCH/edited.state" && _prep=$1
}
sq() { sqlite3 "$DB" "$@"; }
# run_in_case FILE-PREFIX COMMAND: the command's exit status, stdout, stderr
run_in_case() {
	(cd "$C/p" && RESQUE_HOME="$C/home" && export RESQUE_HOME && eval "$2") >"$1.out" 2>"$1.err"
	echo $? >"$1.rc"
}
# The ledger commit of entry N, and its entry bytes.
commit_of() { git --git-dir="$C/p/.resque" rev-list --reverse ledger | sed -n "$(($1 + 1))p"; }
# reencode SEQ PYTHON-STATEMENT OUT: entry SEQ's bytes as index.db holds them,
# parsed, changed by the statement (on `d`) and re-encoded canonically.
reencode() {
	sq "SELECT writefile('$SCRATCH/orig.json', entry) FROM entries WHERE seq=$1" >/dev/null &&
	"$PY" - "$SCRATCH/orig.json" "$2" "$3" <<-\PYEOF
	import json, sys
	d = json.load(open(sys.argv[1], "rb"))
	exec(sys.argv[2])
	open(sys.argv[3], "wb").write(json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
	PYEOF
}
# forge_commit PARENT-COMMIT FILE [SIG-COMMIT]: a commit holding FILE as
# `entry` (and, with SIG-COMMIT, that commit's signature, which no longer
# matches), written into the case's object store but on no branch.
forge_commit() {
	_g="$C/p/.resque"
	_b=$(git --git-dir="$_g" hash-object -w "$2") || return 1
	{
		if [ -n "${3:-}" ]; then git --git-dir="$_g" ls-tree "$3" | grep "	sig$"; fi
		printf '100644 blob %s\tentry\n' "$_b"
	} | git --git-dir="$_g" mktree >"$SCRATCH/tree" &&
	echo forged | git --git-dir="$_g" commit-tree "$(cat "$SCRATCH/tree")" -p "$1"
}
key_entry() { # SEQ PREV-ID OUT: a `key add` of the stranger's key, claimed by the owner
	"$PY" - "$1" "$2" "$3" "$SID" "$SPUB" "$OWNER" "$RESQUE_NOW" <<-\PYEOF
	import json, sys
	seq, prev, out, sid, spub, owner, now = sys.argv[1:]
	d = {"body": {"action": "add", "id": sid, "name": "stranger", "public": spub}, "prev": prev,
	     "seq": int(seq), "signer": owner, "time": now, "type": "key", "v": 1}
	open(out, "wb").write(json.dumps(d, sort_keys=True, separators=(",", ":")).encode())
	PYEOF
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- the edits: edit_NAME changes $DB (and may add loose objects) ----------
# entries.seq
edit_seq_moved() { sq "UPDATE entries SET seq=100 WHERE seq=$S_NOTE"; }
edit_seq_swapped() { sq "UPDATE entries SET seq=-1 WHERE seq=$S_A1; UPDATE entries SET seq=$S_A1 WHERE seq=$S_A2; UPDATE entries SET seq=$S_A2 WHERE seq=-1"; }
# entries.id
edit_id_swapped() { sq "UPDATE entries SET id='x' WHERE seq=$S_V1; UPDATE entries SET id='$V1' WHERE seq=$S_V2; UPDATE entries SET id='$V2' WHERE seq=$S_V1"; }
edit_id_other() { sq "UPDATE entries SET id='$(echo "$A1" | rev)' WHERE seq=$S_A1"; }
# entries.commit_oid
edit_oid_other() { sq "UPDATE entries SET commit_oid='$(commit_of $S_V2)' WHERE seq=$S_V1"; }
edit_oid_unsigned() {
	reencode $S_V1 'd["body"]["cost"]["energy_kwh"] = 1.0; d["body"]["cost"]["carbon_kg"] = 0.1' "$SCRATCH/f.json" &&
	sq "UPDATE entries SET commit_oid='$(forge_commit "$(commit_of $((S_V1 - 1)))" "$SCRATCH/f.json")' WHERE seq=$S_V1"
}
edit_oid_unsigned_and_entry() {
	reencode $S_V1 'd["body"]["cost"]["energy_kwh"] = 1.0; d["body"]["cost"]["carbon_kg"] = 0.1' "$SCRATCH/f.json" &&
	sq "UPDATE entries SET commit_oid='$(forge_commit "$(commit_of $((S_V1 - 1)))" "$SCRATCH/f.json")', entry=readfile('$SCRATCH/f.json') WHERE seq=$S_V1"
}
edit_oid_bad_sig_actual() {
	reencode $S_A1 'd["body"]["epochs"] = 37; d["body"]["energy_kwh"] = 35.0; d["body"]["carbon_kg"] = 3.5' "$SCRATCH/f.json" &&
	sq "UPDATE entries SET commit_oid='$(forge_commit "$(commit_of $((S_A1 - 1)))" "$SCRATCH/f.json" "$(commit_of $S_A1)")', entry=readfile('$SCRATCH/f.json') WHERE seq=$S_A1"
}
# entries.type
edit_type_actual_note() { sq "UPDATE entries SET type='note' WHERE seq=$S_A1"; }
edit_type_import_note() { sq "UPDATE entries SET type='note' WHERE seq=$S_IMP"; }
edit_type_v1_note() { sq "UPDATE entries SET type='note' WHERE seq=$S_V1"; }
# entries.time, signer, name, summary
edit_time() { sq "UPDATE entries SET time='2020-01-01T00:00:00Z' WHERE seq=$S_V1"; }
edit_signer() { sq "UPDATE entries SET signer='$SID' WHERE seq=$S_V1"; }
edit_name_renamed() { sq "UPDATE entries SET name='v9' WHERE seq=$S_V1"; }
edit_name_swapped() { sq "UPDATE entries SET name='v2' WHERE seq=$S_V1; UPDATE entries SET name='v1' WHERE seq=$S_V2"; }
edit_summary() { sq "UPDATE entries SET summary='version v1: forged' WHERE seq=$S_V1; UPDATE entries SET summary='forged' WHERE seq=$S_NOTE"; }
# entries.entry
edit_entry_actual() {
	reencode $S_A1 'd["body"]["epochs"] = 37; d["body"]["energy_kwh"] = 35.0; d["body"]["carbon_kg"] = 3.5' "$SCRATCH/f.json" &&
	sq "UPDATE entries SET entry=readfile('$SCRATCH/f.json') WHERE seq=$S_A1"
}
edit_entry_v1() {
	reencode $S_V1 'd["body"]["cost"]["energy_kwh"] = 1.0; d["body"]["cost"]["carbon_kg"] = 0.1' "$SCRATCH/f.json" &&
	sq "UPDATE entries SET entry=readfile('$SCRATCH/f.json') WHERE seq=$S_V1"
}
edit_entry_import_run() {
	reencode $S_IMP 'd["body"]["source"]["run_id"] = "r9"' "$SCRATCH/f.json" &&
	sq "UPDATE entries SET entry=readfile('$SCRATCH/f.json') WHERE seq=$S_IMP"
}
edit_entry_note_is_key() { # the note's row made a `key add` of the stranger's key
	key_entry $S_NOTE "$V2" "$SCRATCH/f.json" &&
	sq "UPDATE entries SET id='$(sha "$SCRATCH/f.json")', type='key', name='stranger', summary='add key $SID', entry=readfile('$SCRATCH/f.json') WHERE seq=$S_NOTE"
}
# rows inserted and deleted
edit_insert_key() {
	key_entry $((S_NOTE + 1)) "$NOTE" "$SCRATCH/f.json" &&
	sq "INSERT INTO entries(seq, id, commit_oid, type, time, signer, name, summary, entry) VALUES
	    ($((S_NOTE + 1)), '$(sha "$SCRATCH/f.json")', '$(forge_commit "$(commit_of $S_NOTE)" "$SCRATCH/f.json")',
	     'key', '$RESQUE_NOW', '$OWNER', 'stranger', 'add key $SID', readfile('$SCRATCH/f.json'))"
}
edit_delete_actual() { sq "DELETE FROM entries WHERE seq=$S_A1"; }
edit_delete_import() { sq "DELETE FROM entries WHERE seq=$S_IMP"; }
edit_delete_last() { sq "DELETE FROM entries WHERE seq=$S_NOTE"; }
# meta.tip
edit_meta_tip_old() { sq "UPDATE meta SET value='$(commit_of $S_V1)' WHERE key='tip'"; }
edit_meta_tip_bogus() { sq "UPDATE meta SET value='0123456789012345678901234567890123456789' WHERE key='tip'"; }
edit_meta_tip_deleted() { sq "DELETE FROM meta WHERE key='tip'"; }
# merkle.level, idx, hash; rows inserted and deleted
edit_merkle_leaf() { sq "UPDATE merkle SET hash=randomblob(32) WHERE level=0 AND idx=$S_V1"; }
edit_merkle_root8() { sq "UPDATE merkle SET hash=randomblob(32) WHERE level=3 AND idx=0"; }
edit_merkle_level() { sq "UPDATE OR REPLACE merkle SET level=level+10 WHERE level=1 AND idx=0"; }
edit_merkle_idx() { sq "UPDATE OR REPLACE merkle SET idx=idx+100 WHERE level=0 AND idx=2"; }
edit_merkle_delete() { sq "DELETE FROM merkle WHERE level=2"; }
edit_merkle_insert() { sq "INSERT INTO merkle(level, idx, hash) VALUES (0, 50, randomblob(32))"; }

# The edit's outcome for one command against the answer before any edit.
# Prints what is wrong (nothing when the outcome is acceptable).
judge() { # LABEL COMMAND STATE-BEFORE
	_r="$RES/x" _b="$BASE/$(echo "$1" | tr -c 'a-zA-Z0-9\n' _)"
	_rc=$(cat "$_r.rc") _brc=$(cat "$_b.rc")
	if crashed "$_rc" || grep -q -e Sanitizer -e 'runtime error' "$_r.err"; then
		echo "$1: crashed (exit $_rc)"; sed 's/^/    stderr: /' "$_r.err"; return
	fi
	if [ "$_rc" = 3 ]; then
		if ! cat "$_r.out" "$_r.err" | grep -q -E 'index\.db.*reindex|reindex.*index\.db|entry [0-9]+'; then
			echo "$1: exit 3 without naming index.db (and 'resque reindex') or the entry:"
			sed 's/^/    stderr: /' "$_r.err"; sed 's/^/    stdout: /' "$_r.out" | head -5
		fi
		repo_state "$C/p" >"$SCRATCH/after"
		cmp -s "$3" "$SCRATCH/after" || echo "$1: exit 3 but the ledger changed"
		# and the rebuilt index gives the answer of before the edit
		run_in_case "$SCRATCH/ri" "resque reindex"
		[ "$(cat "$SCRATCH/ri.rc")" = 0 ] || { echo "$1: resque reindex failed:"; sed 's/^/    /' "$SCRATCH/ri.err"; return; }
		run_in_case "$_r" "$2"
		_rc=$(cat "$_r.rc")
		_after=" after resque reindex"
	else
		_after=""
	fi
	if [ "$_rc" != "$_brc" ] && [ "$_rc" = 0 ]; then
		echo "$1: exit 0$_after: did what it refused before the edit (exit $_brc: $(tail -1 "$_b.err"))"
		sed 's/^/    stdout: /' "$_r.out" | head -3
	elif [ "$_rc" != "$_brc" ]; then
		echo "$1: exit $_rc$_after, before the edit exit $_brc (wanted: exit 3 naming index.db or the entry, or the answer of before)"
		sed 's/^/    stderr: /' "$_r.err" | head -5
	elif ! cmp -s "$_b.out" "$_r.out"; then
		echo "$1: exit $_rc$_after with output that differs from before the edit (forged):"
		diff "$_b.out" "$_r.out" | head -12 | sed 's/^/    /'
	elif [ "$_brc" != 0 ] && [ "$(tail -1 "$_b.err")" != "$(tail -1 "$_r.err")" ]; then
		echo "$1: exit $_rc$_after with another message than before the edit:"
		echo "    before: $(tail -1 "$_b.err")"; echo "    now:    $(tail -1 "$_r.err")"
	fi
	if [ "$_brc" != 0 ] && [ "$_rc" != 0 ]; then
		repo_state "$C/p" >"$SCRATCH/after"
		cmp -s "$3" "$SCRATCH/after" || echo "$1: refused$_after, but the ledger changed"
	fi
}

# check_edit NAME 'what it does' VERIFY-REGEX: apply edit_NAME to a fresh copy
# for each command; verify must exit 3 matching the regex (on stdout or
# stderr), then be clean after reindex.
check_edit() {
	_bad="$SCRATCH/bad"
	: >"$_bad"
	_prep=
	fresh && "edit_$1" || { say "edit $1 could not be made"; return 1; }
	cp "$DB" "$SCRATCH/edited.db" && repo_state "$C/p" >"$SCRATCH/edited.state" && _prep=$1
	run_in_case "$RES/v" "resque verify --json"
	if [ "$3" = stale ]; then
		# meta.tip is how a stale index is recognised: a rebuild is right too
		if ! { [ "$(cat "$RES/v.rc")" = 0 ] && [ "$(json_get "$RES/v.out" "d[\"index_rebuilt\"]")" = True ]; } &&
		   ! { [ "$(cat "$RES/v.rc")" = 3 ] && grep -q "index\.db.*tip" "$RES/v.out"; }; then
			{ echo "verify: exit $(cat "$RES/v.rc"), expected 3 naming the tip, or 0 with the index rebuilt:"; sed 's/^/    /' "$RES/v.out"; } >>"$_bad"
		fi
	elif [ "$(cat "$RES/v.rc")" != 3 ]; then
		{ echo "verify: exit $(cat "$RES/v.rc"), expected 3 reporting the edit (/$3/):"; sed 's/^/    /' "$RES/v.out"; } >>"$_bad"
	elif ! cat "$RES/v.out" "$RES/v.err" | grep -q -E "$3"; then
		{ echo "verify: exit 3 but its report lacks /$3/:"; sed 's/^/    /' "$RES/v.out"; } >>"$_bad"
	fi
	run_in_case "$RES/v" "resque reindex && resque verify"
	[ "$(cat "$RES/v.rc")" = 0 ] || { echo "reindex, then verify: exit $(cat "$RES/v.rc")"; sed 's/^/    /' "$RES/v.out" "$RES/v.err"; } >>"$_bad"
	while IFS='	' read -r _label _cmd; do
		prepare "$1" || { echo "$_label: edit could not be made" >>"$_bad"; continue; }
		repo_state "$C/p" >"$SCRATCH/before"
		run_in_case "$RES/x" "$_cmd"
		judge "$_label" "$_cmd" "$SCRATCH/before" >>"$_bad"
	done <"$SCRATCH/commands"
	if [ -s "$_bad" ]; then
		say "index.db edited ($2): misled commands:"
		sed 's/^/  /' "$_bad" >&2
		return 1
	fi
}

test_expect_success 'setup: a lineage (v1, plans, actuals, an import, v2, a note), verified' '
	mkdir -p "$PRISTINE" && cd "$PRISTINE" &&
	RESQUE_HOME="$PRISTINE/home" && export RESQUE_HOME &&
	resque key gen >/dev/null && RESQUE_HOME="$PRISTINE/stranger" resque key gen >/dev/null &&
	expect_success resque init p && cd p &&
	printf w1 >w1.bin && printf w2 >w2.bin && printf w3 >w3.bin &&
	mkemb d1 1 8 0 && mkemb d2 2 8 0.5 && mkemb d3 3 8 2 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"intensity_g_per_kwh\": 100, \"hardware\": \"rtx3090\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family noise --json &&
	P1=$(json_get "$OUT" "d[\"plans\"][0][\"id\"]") &&
	expect_success resque record --plan "$P1" --epochs 7 --energy-kwh 3.2 --duration-s 1700 --json &&
	A1=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --shift-family noise --json &&
	P2=$(json_get "$OUT" "d[\"plans\"][0][\"id\"]") &&
	expect_success resque record --plan "$P2" --epochs 19 --energy-kwh 7.7 --duration-s 4500 --json &&
	A2=$(json_get "$OUT" "d[\"id\"]") &&
	printf "run_id,duration,emissions,energy_consumed\nr1,10,0.5,2.5\n" >e.csv &&
	expect_success resque import codecarbon e.csv --json && IMP=$(json_get "$OUT" "d[0][\"id\"]") &&
	expect_success resque commit --weights w2.bin --name v2 --parent v1 --embeddings d2-emb.npy --labels d2-lab.npy --actual "$IMP" --json &&
	expect_success resque note -m hello --json && NOTE=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque log --json && cp "$OUT" "$SCRATCH/log.json" &&
	seq_of() { json_get "$SCRATCH/log.json" "[e[\"seq\"] for e in d if e.get(\"$1\") == \"$2\"][0]"; } &&
	id_of() { json_get "$SCRATCH/log.json" "[e[\"id\"] for e in d if e[\"seq\"] == $1][0]"; } &&
	S_V1=$(seq_of name v1) && S_V2=$(seq_of name v2) && V1=$(id_of $S_V1) && V2=$(id_of $S_V2) &&
	S_A1=$(seq_of id "$A1") && S_A2=$(seq_of id "$A2") && S_IMP=$(seq_of id "$IMP") && S_NOTE=$(seq_of id "$NOTE") &&
	test "$S_V1 $S_A1 $S_A2 $S_IMP $S_V2 $S_NOTE" = "1 3 5 6 7 8" &&
	SID=$(sed -n "s/^id //p" "$PRISTINE"/stranger/keys/*.pub) &&
	SPUB=$(sed -n "s/^public //p" "$PRISTINE"/stranger/keys/*.pub) &&
	OWNER=$(sed -n "s/^id //p" "$PRISTINE"/home/keys/*.pub) &&
	test ${#SID} = 16 && test ${#SPUB} = 64 && test ${#OWNER} = 16 &&
	expect_success resque verify && grep_out "^ok: 9 entries verified" &&
	RESQUE_HOME="$PRISTINE/stranger" expect_success resque verify &&
	write_commands
'
RESQUE_HOME="$HOME/.config/resque"

test_expect_success 'the answers before any edit (on a copy, at the path every case uses)' '
	while IFS="	" read -r label cmd; do
		b="$BASE/$(echo "$label" | tr -c "a-zA-Z0-9\n" _)" &&
		fresh && run_in_case "$b" "$cmd" || return 1
		echo "$label: exit $(cat "$b.rc")" >&2
	done <"$SCRATCH/commands" &&
	for ok in show_v1 show_v1___json show_v2___json show_actual___json show_import___json show_note log log___json \
		plan__signs_its_forecast_ commit___actual checkpoint audit_prove_v1 report___format_json; do
		test "$(cat "$BASE/$ok.rc")" = 0 || { echo "$ok failed before any edit" >&2; cat "$BASE/$ok.err" >&2; return 1; }
	done &&
	test "$(cat "$BASE/import_codecarbon_duplicate.rc")" = 0 &&
	grep -q "already imported as" "$BASE/import_codecarbon_duplicate.out" &&
	test "$(cat "$BASE/commit_by_a_stranger.rc")" = 1 && grep -q "not a signer" "$BASE/commit_by_a_stranger.err" &&
	test "$(cat "$BASE/note_by_a_stranger.rc")" = 1 && grep -q "not a signer" "$BASE/note_by_a_stranger.err" &&
	json_get "$BASE/show_v1___json.out" "d[\"body\"][\"cost\"][\"energy_kwh\"]" | grep -qx 12.5 &&
	test "$(json_get "$BASE/plan__signs_its_forecast_.out" "d[\"plans\"][0][\"calibration\"][\"n\"]")" = 2 &&
	test "$(json_get "$BASE/commit___actual.out" "d[\"body\"][\"cost\"][\"epochs\"]")" = 7 &&
	fresh && run_in_case "$RES/v" "resque verify" && test "$(cat "$RES/v.rc")" = 0 &&
	fresh && run_in_case "$RES/x" "resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family noise --json" &&
	compare "$BASE/plan__signs_its_forecast_.out" "$RES/x.out"
'

# NAME|what it does|what verify must say (extended regex, on its --json
# output; `stale`: exit 3 naming the tip, or exit 0 with index_rebuilt)
while IFS='|' read -r NAME WHAT VRE; do
	test_expect_success "index.db edited: $WHAT" 'check_edit "$NAME" "$WHAT" "$VRE"' </dev/null
done <<'EOF'
seq_moved|entries.seq: the last entry's row moved to seq 100|index\.db.*(100|8)
seq_swapped|entries.seq: two actuals' rows swapped|index\.db.*(3|5)
id_swapped|entries.id: v1 and v2 swapped|index\.db.*id
id_other|entries.id: an actual's id replaced|index\.db.*id
oid_other|entries.commit_oid: v1 points at v2's commit|index\.db.*commit
oid_unsigned|entries.commit_oid: v1 points at an unsigned commit (forged energy)|index\.db.*commit
oid_unsigned_and_entry|entries.commit_oid and entry: v1 forged consistently, unsigned|index\.db.*(commit|entry)
oid_bad_sig_actual|entries.commit_oid and entry: an actual forged, its old signature kept|index\.db.*(commit|entry)
type_actual_note|entries.type: an actual hidden as a note|index\.db.*type
type_import_note|entries.type: the imported actual hidden as a note|index\.db.*type
type_v1_note|entries.type: v1 made a note|index\.db.*type
time|entries.time: v1 dated 2020|index\.db.*time
signer|entries.signer: v1 claimed by the stranger|index\.db.*signer
name_renamed|entries.name: v1 renamed v9|index\.db.*name
name_swapped|entries.name: v1 and v2 swapped|index\.db.*name
summary|entries.summary: v1's and the note's|index\.db.*summary
entry_actual|entries.entry: an actual's bytes with 37 epochs, 35 kWh|index\.db.*entry
entry_v1|entries.entry: v1's bytes with 1 kWh|index\.db.*entry
entry_import_run|entries.entry: the imported run's id changed|index\.db.*entry
entry_note_is_key|entries: the note's row made a key add for a stranger|index\.db.*(id|type|entry)
insert_key|entries: a fake key add row for a stranger inserted|index\.db.*(not in the ledger|9)
delete_actual|entries: an actual's row deleted|index\.db.*(lacks|3)
delete_import|entries: the imported actual's row deleted|index\.db.*(lacks|6)
delete_last|entries: the last row deleted|index\.db.*(lacks|8|tip)
meta_tip_old|meta.tip: set to v1's commit|stale
meta_tip_bogus|meta.tip: set to a commit that does not exist|stale
meta_tip_deleted|meta.tip: deleted|stale
merkle_leaf|merkle.hash: v1's leaf|index\.db.*Merkle
merkle_root8|merkle.hash: the subtree of the first 8 entries|index\.db.*Merkle
merkle_level|merkle.level: a row moved up|index\.db.*Merkle
merkle_idx|merkle.idx: a row moved along|index\.db.*Merkle
merkle_delete|merkle: a level deleted|index\.db.*Merkle
merkle_insert|merkle: a row inserted|index\.db.*Merkle
EOF

test_done
