#!/bin/sh
# note, log, show and reindex; a missing or stale index.db.
. "$(dirname "$0")/lib.sh"
test_requires SQLITE3

test_expect_success 'setup' '
	expect_success resque init p && cd p &&
	expect_success resque note -m "first note" && grep_out "^[0-9a-f]{12} note 1$" &&
	expect_success resque note -m "second note
with a second line" &&
	expect_success resque note --message="third"
'

test_expect_success 'log lists newest first; --json has the contract fields' '
	cd p && expect_success resque log &&
	head -1 "$OUT" | grep -q "third" && tail -1 "$OUT" | grep -q " init " &&
	expect_success resque log --json &&
	"$PY" - "$OUT" <<-PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert [e["seq"] for e in d] == [3, 2, 1, 0], d
	for e in d:
	    for k in ("id", "seq", "type", "time", "signer"):
	        assert k in e, (k, e)
	    assert len(e["id"]) == 64 and len(e["signer"]) == 16
	assert d[1]["summary"] == "second note"
	assert d[0]["prev"] == d[1]["id"]
	PYEOF
'

test_expect_success 'log --type and -n filter' '
	cd p && expect_success resque log --type note -n 2 --json &&
	test "$(json_get "$OUT" "len(d)")" = 2 &&
	test "$(json_get "$OUT" "sorted(set(e[\"type\"] for e in d))")" = "[$(printf "%s" "'"'"'note'"'"'")]" &&
	expect_failure 2 resque log --type bogus && grep_err "unknown entry type"
'

test_expect_success 'show by id prefix, whole body, --json' '
	cd p && id=$(resque log --json | json_get /dev/stdin "d[1][\"id\"]") &&
	expect_success resque show "$(echo "$id" | cut -c1-6)" && grep_out "^entry   $id" &&
	grep_out "with a second line" &&
	expect_success resque show "$(echo "$id" | cut -c1-10 | tr a-f A-F)" --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"message\"]")" = "second note
with a second line" &&
	test "$(json_get "$OUT" "d[\"seq\"]")" = 2
'

test_expect_success 'show refuses unknown and too short ids' '
	cd p && expect_error 1 "no entry named or identified by" resque show ffffffffff &&
	expect_error 1 "at least 4 hex digits" resque show abc &&
	expect_failure 2 resque show
'

test_expect_success 'an ambiguous id prefix is refused; more digits resolve it' '
	# 2000 entries hold two ids sharing 4 digits (all but surely: the
	# chance that none of its ~1,700 entries that are not versions do is
	# about e^-20)
	rq-bulk amb/.resque 2000 >/dev/null &&
	(cd amb && resque log --json >../amb.json) &&
	# (not versions: show resolves a version reference first)
	set -- $(json_get amb.json "next(\" \".join((a, b)) for a in [e[\"id\"] for e in d if e[\"type\"] != \"version\"] for b in [e[\"id\"] for e in d if e[\"type\"] != \"version\"] if a < b and a[:4] == b[:4])") &&
	(cd amb && expect_error 1 "matches several entries; give more digits" resque show "$(echo "$1" | cut -c1-4)" &&
	 expect_success resque show --json "$(echo "$1" | cut -c1-12)" && test "$(json_get "$OUT" "d[\"id\"]")" = "$1")
'

test_expect_success 'index.db cannot make an id prefix ambiguous, or name an entry by another id' '
	cd p && ids=$(resque log --json | json_get /dev/stdin "\" \".join(e[\"id\"] for e in d[:2])") &&
	set -- $ids && repo_state >before &&
	sqlite3 .resque/index.db "UPDATE entries SET id=\"beef\" || substr(id, 5) WHERE id IN (\"$1\", \"$2\")" &&
	expect_failure 1 resque show beef && grep_err "no entry named or identified by .beef." &&
	expect_failure 1 resque show "beef$(echo "$1" | cut -c5-12)" && grep_err "no entry named or identified by" &&
	# ids are looked up among the verified entries: the edit changes nothing
	expect_success resque show --json "$(echo "$1" | cut -c1-12)" && test "$(json_get "$OUT" "d[\"id\"]")" = "$1" &&
	expect_failure 3 resque verify && grep_out "index.db disagrees with the ledger about entry [0-9]+: its id" &&
	expect_success resque reindex && expect_success resque verify && repo_state >after && compare before after
'

test_expect_success 'note needs a message' '
	cd p && repo_state >before &&
	expect_failure 2 resque note && grep_err "missing --message TEXT" &&
	expect_failure 2 resque note -m "" && grep_err "needs a message" &&
	repo_state >after && compare before after
'

test_expect_success 'a deleted index.db is rebuilt by any command' '
	cd p && resque log --json >before.json &&
	rm -f .resque/index.db .resque/index.db-wal .resque/index.db-shm &&
	expect_success resque log --json && compare before.json "$OUT" &&
	rm -f .resque/index.db* &&
	expect_success resque verify --json && test "$(json_get "$OUT" "d[\"index_rebuilt\"]")" = True &&
	rm -f .resque/index.db* && expect_success resque show "$(json_get before.json "d[0][\"id\"]")"
'

test_expect_success 'a ledger moved back by plain git: refused until verify --forget, then the index is rebuilt' '
	cd p && n=$(resque log --json | json_get /dev/stdin "len(d)") &&
	git --git-dir=.resque update-ref refs/heads/ledger ledger~2 &&
	expect_error 3 "ledger rolled back from $n to $((n - 2)) entries" resque log --json &&
	expect_failure 3 resque verify && grep_out "ledger rolled back from $n to $((n - 2)) entries" &&
	expect_success resque verify --forget &&
	expect_success resque log --json && test "$(json_get "$OUT" "len(d)")" = $((n - 2))
'

test_expect_success 'a corrupt index.db is rebuilt' '
	cd p && echo "not a database" >.resque/index.db && rm -f .resque/index.db-wal .resque/index.db-shm &&
	expect_success resque log && expect_success resque verify
'

test_expect_success 'reindex reports the count and verify stays clean' '
	cd p && expect_success resque reindex && grep_out "index.db rebuilt: [0-9]+ entries" &&
	expect_success resque verify
'

test_expect_success 'canonical entries are byte-identical after a round trip through git' '
	cd p && git --git-dir=.resque show ledger:entry >e &&
	"$PY" -c "
import json, sys
b = open(\"e\", \"rb\").read()
d = json.loads(b)
assert json.dumps(d, sort_keys=True, separators=(\",\", \":\"), ensure_ascii=False).encode() == b
"
'

test_expect_success 'a full disk on stdout is an error, not success' '
	cd p && if [ -w /dev/full ]; then expect_error 1 "write error" sh -c "resque log >/dev/full"; fi
'

test_done
