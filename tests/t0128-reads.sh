#!/bin/sh
# log -n, log -t, show latest, show REF~N, show ID: the reads that start at
# the tip or look one entry up give what reading the whole ledger gives,
# after appends by another process and whatever index.db's columns say.
. "$(dirname "$0")/lib.sh"
test_requires SQLITE3

# The answers from the whole ledger (log --json lists every entry).
check_against_full() {
	resque log --json >full.json &&
	for t in "" version plan actual note init dataset; do
		for n in 1 3 40; do
			if test -n "$t"; then resque log -t "$t" -n "$n" --json >got.json || return 1
			else resque log -n "$n" --json >got.json || return 1; fi
			"$PY" - full.json got.json "$t" "$n" <<-PYEOF || return 1
			import json, sys
			full = json.load(open(sys.argv[1])); got = json.load(open(sys.argv[2]))
			t, n = sys.argv[3], int(sys.argv[4])
			want = [e for e in full if not t or e["type"] == t][:n]
			assert got == want, (t, n, [e["seq"] for e in got], [e["seq"] for e in want])
			PYEOF
		done
	done &&
	resque log >text.out && resque log -n 5 >text5.out && head -5 text.out | cmp - text5.out &&
	newest=$(json_get full.json "[e[\"id\"] for e in d if e[\"type\"] == \"version\"][0]") &&
	resque show latest --json >latest.json &&
	test "$(json_get latest.json "d[\"id\"]")" = "$newest"
}

test_expect_success 'setup: a ledger of every kind of entry' '
	rq-bulk l/.resque 400 >/dev/null && cd l &&
	resque log --json >all.json &&
	test "$(json_get all.json "len(d)")" = 400 &&
	test "$(json_get all.json "len(set(e[\"type\"] for e in d)) >= 4")" = True
'

test_expect_success 'log -n, log -t TYPE -n, show latest agree with the whole ledger' '
	cd l && check_against_full
'

test_expect_success 'show latest~N and REF~N walk the parents; whole ids and prefixes find the entry' '
	cd l && resque show latest --json >v.json &&
	lin=$(json_get v.json "len(d[\"lineage\"])") && test "$lin" -gt 3 &&
	expect_success resque show latest~3 --json &&
	test "$(json_get "$OUT" "d[\"lineage\"]")" = "$(json_get v.json "d[\"lineage\"][:-3]")" &&
	id=$(json_get v.json "d[\"id\"]") && name=$(json_get v.json "d[\"name\"]") &&
	expect_success resque show "$id~2" --json &&
	test "$(json_get "$OUT" "d[\"name\"]")" = "$(json_get v.json "d[\"lineage\"][-3]")" &&
	expect_success resque show "$id" --json && test "$(json_get "$OUT" "d[\"name\"]")" = "$name" &&
	expect_success resque show "$(echo "$id" | cut -c1-12)" --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$id" &&
	note=$(json_get all.json "[e[\"id\"] for e in d if e[\"type\"] == \"note\"][0]") &&
	expect_success resque show "$note" && grep_out "^entry   $note" &&
	expect_error 1 "no entry named or identified by" resque show "$(echo "$note" | tr 0-9a-f 1-9a-f0)"
'

test_expect_success 'after another process appends, the reads see the new entries' '
	cd l && (resque note -m "from another process" >/dev/null) &&
	expect_success resque log -n 1 && grep_out "from another process" &&
	expect_success resque log -t note -n 1 && grep_out "from another process" &&
	check_against_full
'

test_expect_success 'index.db edited: type, id and name columns mislead no read' '
	cd l && cp -R .resque ../saved.resque &&
	v=$(resque show latest --json | json_get /dev/stdin "d[\"id\"]") &&
	n=$(resque show latest --json | json_get /dev/stdin "d[\"name\"]") &&
	other=$(json_get all.json "[e[\"id\"] for e in d if e[\"type\"] == \"note\"][0]") &&
	sqlite3 .resque/index.db "UPDATE entries SET type=\"note\" WHERE id=\"$v\";
		UPDATE entries SET id=\"gone\" WHERE id=\"$v\";
		UPDATE entries SET id=\"$v\" WHERE id=\"$other\";
		UPDATE entries SET name=\"$n\" WHERE type=\"plan\"" &&
	expect_success resque show latest --json && test "$(json_get "$OUT" "d[\"id\"]")" = "$v" &&
	expect_success resque log -t version -n 1 --json && test "$(json_get "$OUT" "d[0][\"id\"]")" = "$v" &&
	expect_success resque show "$v" --json && test "$(json_get "$OUT" "d[\"name\"]")" = "$n" &&
	expect_success resque show "$n" --json && test "$(json_get "$OUT" "d[\"id\"]")" = "$v" &&
	expect_success resque show "$other" && grep_out "^entry   $other" &&
	rm -rf .resque && mv ../saved.resque .resque
'

test_expect_success 'index.db edited: a row missing or changed at the tip fails log -n 1 (exit 3), printing nothing' '
	cd l && cp -R .resque ../saved.resque &&
	sqlite3 .resque/index.db "DELETE FROM entries WHERE seq=(SELECT max(seq) FROM entries)" &&
	expect_error 3 "index.db: entry 400 is missing; run" resque log -n 1 &&
	test ! -s "$OUT" &&
	rm -rf .resque && cp -R ../saved.resque .resque &&
	sqlite3 .resque/index.db "UPDATE entries SET entry=CAST(replace(CAST(entry AS TEXT), \"a\", \"b\") AS BLOB)
		WHERE seq=(SELECT max(seq) FROM entries)" &&
	expect_error 3 "is not the entry verified there" resque log -n 1 &&
	test ! -s "$OUT" &&
	expect_error 3 "is not the entry verified there" resque log -n 2 --json &&
	rm -rf .resque && mv ../saved.resque .resque &&
	expect_success resque log -n 1
'

test_expect_success 'index.db damaged (its schema edited): reindex makes it again, and reads work' '
	cd l && cp -R .resque ../saved.resque && resque log -n 3 >log.before &&
	sqlite3 .resque/index.db "PRAGMA writable_schema=ON; UPDATE sqlite_master SET rootpage=8 WHERE name=\"entries\";" &&
	repo_state . >state.before &&
	expect_success resque reindex && grep_out "index.db rebuilt" &&
	repo_state . >state.after && compare state.before state.after &&
	expect_success resque log -n 3 && compare log.before "$OUT" &&
	expect_success resque verify &&
	rm -rf .resque && mv ../saved.resque .resque
'

test_done
