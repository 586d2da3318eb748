#!/bin/sh
# resque audit report: a genuine JSON or HTML report passes with nothing but
# the signer's public key; an edited figure, a dropped update, an entry
# swapped for another repository's, a checkpoint by another key, the wrong
# --key and a report of another history (-C) fail with exit 3 naming what;
# unreadable input fails with exit 1.
. "$(dirname "$0")/lib.sh"
test_requires SQLITE3 NUMPY

# edit IN OUT PYTHON: load the report as `d`, run PYTHON, write it back.
edit() {
	"$PY" - "$1" "$2" "$3" <<-\PYEOF
	import json, sys, base64, textwrap
	d = json.load(open(sys.argv[1]))
	exec(textwrap.dedent(sys.argv[3]).strip())
	json.dump(d, open(sys.argv[2], "w"), indent=1)
	PYEOF
}

test_expect_success 'setup: a repository with a version, plans, actuals; a second signer; another repository' '
	RESQUE_NOW=2024-06-01T00:00:00Z expect_success resque init p && cd p &&
	expect_success resque config region FR &&
	"$PY" -c "import numpy as np; g=np.random.default_rng(1); np.save(\"e1.npy\", g.standard_normal((200, 6)).astype(np.float32)); np.save(\"l1.npy\", g.integers(0, 3, 200)); np.save(\"e2.npy\", (g.standard_normal((200, 6)) + 0.3).astype(np.float32))" &&
	printf w1 >w1.bin &&
	printf "{\"epochs\": 10, \"energy_kwh\": 4, \"duration_s\": 600, \"hardware\": \"gpu\"}" >c1.json &&
	RESQUE_NOW=2024-06-02T00:00:00Z expect_success resque commit --weights w1.bin --name v1 --embeddings e1.npy --labels l1.npy --cost c1.json &&
	RESQUE_NOW=2024-07-01T00:00:00Z expect_success resque plan --from v1 --embeddings e2.npy --labels l1.npy --json &&
	plan=$(json_get "$OUT" "d[\"plans\"][0][\"id\"]") && echo "$plan" >../plan &&
	RESQUE_NOW=2025-01-02T00:00:00Z expect_success resque record --plan "$plan" --epochs 4 --energy-kwh 1.5 &&
	RESQUE_HOME="$SCRATCH/bob" expect_success resque key gen &&
	expect_success resque key add "$(ls "$SCRATCH"/bob/keys/*.pub)" &&
	printf "run_id,duration,emissions,energy_consumed\nr1,10,0.5,2.5\n" >e.csv &&
	expect_success resque import codecarbon e.csv &&
	expect_success resque key export && cp "$OUT" ../alice.pub &&
	RESQUE_HOME="$SCRATCH/bob" expect_success resque key export && cp "$OUT" ../bob.pub &&
	expect_success resque report --format json -o ../r.json &&
	expect_success resque report --format html -o ../r.html &&
	RESQUE_HOME="$SCRATCH/bob" expect_success resque report --format json -o ../bob.json &&
	cd .. && expect_success resque init q && cd q &&
	expect_success resque note -m "another repository" && expect_success resque note -m "with entries" &&
	expect_success resque note -m "enough to swap" && expect_success resque note -m "one of them" &&
	expect_success resque note -m "for the report" && expect_success resque note -m "entry" &&
	expect_success resque report --format json -o ../q.json
'

test_expect_success 'a genuine JSON report passes with the public key alone, out of any repository' '
	mkdir -p elsewhere && cd elsewhere &&
	expect_success resque audit report ../r.json --key ../alice.pub &&
	n=$(git --git-dir=../p/.resque rev-list --count ledger) &&
	grep_out "^ok: $n entries, [0-9]+ figures checked, checkpoint $n [A-Za-z0-9+/]+=*$" &&
	expect_success resque audit report ../r.json --key "$(cat ../alice.pub)" --json &&
	test "$(json_get "$OUT" "d[\"ok\"]")" = True &&
	test "$(json_get "$OUT" "d[\"figures\"] > 100")" = True
'

test_expect_success 'the evidence holds every entry of the tree, proofs for the entries with figures' '
	"$PY" - r.json p/.resque <<-\PYEOF
	import json, sys, base64, subprocess
	d = json.load(open(sys.argv[1]))
	ev = d["evidence"]
	revs = subprocess.run(["git", "--git-dir", sys.argv[2], "rev-list", "--first-parent", "--reverse", "ledger"],
	                      capture_output=True, text=True, check=True).stdout.split()
	assert [e["seq"] for e in ev["entries"]] == list(range(len(revs))) == list(range(d["checkpoint"]["size"]))
	for e, r in zip(ev["entries"], revs):
	    raw = subprocess.run(["git", "--git-dir", sys.argv[2], "show", r + ":entry"], capture_output=True).stdout
	    sig = subprocess.run(["git", "--git-dir", sys.argv[2], "show", r + ":sig"], capture_output=True, text=True).stdout
	    assert base64.b64decode(e["bytes"]) == raw and e["sig"] == sig
	    t = json.loads(raw)["type"]
	    assert ("proof" in e) == (t in ("init", "key", "version", "plan", "actual")), (t, e.keys())
	assert ev["checkpoint"] == d["checkpoint"]["note"] and ev["format"] == 1
	assert d["updates"] and all(u["actual_id"] == (u["actual"] or {}).get("id") for u in d["updates"])
	PYEOF
'

test_expect_success 'a genuine HTML report passes; with -C its history is the repository'"'"'s' '
	expect_success resque audit report r.html --key alice.pub &&
	grep_out "^ok: .* checked \(and every displayed cell\)" &&
	expect_success resque audit report r.json --key alice.pub -C p &&
	(cd p && expect_success resque note -m "later entries extend the history") &&
	expect_success resque audit report r.json --key alice.pub -C p
'

test_expect_success 'a report signed by another authorised signer passes with that signer'"'"'s key only' '
	expect_success resque audit report bob.json --key bob.pub &&
	expect_error 3 "bob.json: not signed by" resque audit report bob.json --key alice.pub &&
	expect_error 3 "r.json: not signed by" resque audit report r.json --key bob.pub
'

test_expect_success 'one number edited fails, naming the figure' '
	edit r.json e1.json "d[\"totals\"][\"energy_kwh\"] += 1" &&
	expect_error 3 "e1.json: totals.energy_kwh: the report says 9, the entries give 8" \
		resque audit report e1.json --key alice.pub &&
	edit r.json e2.json "d[\"updates\"][0][\"actual\"][\"energy_kwh\"] = 1.4" &&
	expect_error 3 "updates.0.actual.energy_kwh: the report says 1.4, the entries give 1.5" \
		resque audit report e2.json --key alice.pub &&
	edit r.json e3.json "d[\"forecast_quality\"][\"energy_kwh\"][\"median_ape\"] *= 0.5" &&
	expect_error 3 "forecast_quality.energy_kwh.median_ape: the report says" resque audit report e3.json --key alice.pub &&
	edit r.json e4.json "d[\"years\"][1][\"carbon_kg\"] = 0" &&
	expect_error 3 "years.1.carbon_kg" resque audit report e4.json --key alice.pub &&
	edit r.json e5.json "d[\"period\"][\"since\"] = \"2025-01-01\"" &&
	expect_error 3 "e5.json: " resque audit report e5.json --key alice.pub
'

test_expect_success 'one update dropped fails: from the table, and with its entries from the evidence' '
	plan=$(cat plan) &&
	edit r.json d1.json "d[\"updates\"] = [u for u in d[\"updates\"] if u[\"plan\"] != \"$plan\"]" &&
	expect_error 3 "d1.json: updates: the report lists 1, the entries give 2" resque audit report d1.json --key alice.pub &&
	edit r.json d2.json "
	drop = set(u[\"actual\"][\"seq\"] for u in d[\"updates\"] if u[\"plan\"] == \"$plan\") | set(u[\"actual\"][\"seq\"] - 1 for u in d[\"updates\"] if u[\"plan\"] == \"$plan\")
	d[\"updates\"] = [u for u in d[\"updates\"] if u[\"plan\"] != \"$plan\"]
	d[\"evidence\"][\"entries\"] = [e for e in d[\"evidence\"][\"entries\"] if e[\"seq\"] not in drop]" &&
	expect_error 3 "d2.json: the checkpoint is of" resque audit report d2.json --key alice.pub
'

test_expect_success 'an entry swapped for another repository'"'"'s fails' '
	"$PY" - r.json q.json s1.json <<-\PYEOF
	import json, sys
	d, q = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
	d["evidence"]["entries"][3] = q["evidence"]["entries"][3]
	json.dump(d, open(sys.argv[3], "w"))
	PYEOF
	expect_error 3 "s1.json: entry 3: hash chain broken" resque audit report s1.json --key alice.pub &&
	expect_success resque audit report q.json --key alice.pub &&
	expect_error 3 "the repository'"'"'s ledger does not contain this report'"'"'s history" \
		resque audit report q.json --key alice.pub -C p &&
	edit r.json s2.json "d[\"evidence\"][\"checkpoint\"] = json.load(open(\"q.json\"))[\"evidence\"][\"checkpoint\"]" &&
	expect_error 3 "s2.json: " resque audit report s2.json --key alice.pub
'

test_expect_success 'the report'"'"'s stated checkpoint must be its evidence'"'"'s' '
	edit r.json c1.json "d[\"checkpoint\"][\"size\"] -= 1" &&
	expect_error 3 "c1.json: checkpoint: the report states another checkpoint" resque audit report c1.json --key alice.pub
'

test_expect_success 'an edited HTML cell or embedded figure fails' '
	"$PY" - r.html h1.html <<-\PYEOF
	import re, sys
	h = open(sys.argv[1]).read()
	m = re.search(r"(data-rq=\"totals\.energy_kwh\"[^>]*>)([^<]*)<", h)
	assert m, "no totals.energy_kwh cell"
	h = h[:m.start(2)] + "12" + h[m.end(2):]
	open(sys.argv[2], "w").write(h)
	PYEOF
	expect_error 3 "h1.html: the table cell totals.energy_kwh shows '"'"'12'"'"', the entries give '"'"'8'"'"'" \
		resque audit report h1.html --key alice.pub &&
	sed "s/\"energy_kwh\": 8,/\"energy_kwh\": 8.5,/" r.html >h2.html && ! cmp -s r.html h2.html &&
	expect_error 3 "h2.html: totals.energy_kwh: the report says 8.5, the entries give 8" \
		resque audit report h2.html --key alice.pub
'

test_expect_success 'what a reader sees beyond the figures is checked too' '
	edit r.json s1.json "d[\"verified\"] = False" &&
	expect_error 3 "s1.json: verified: the report does not say true" resque audit report s1.json --key alice.pub &&
	edit r.json s2.json "d[\"comment\"] = \"audited by ACME\"" &&
	expect_error 3 "is not a field of a report: nothing in the evidence supports it" resque audit report s2.json --key alice.pub &&
	edit r.json s3.json "d[\"checkpoint\"][\"note\"] += \"x\"" &&
	expect_error 3 "s3.json: checkpoint: the report states another checkpoint" resque audit report s3.json --key alice.pub &&
	edit r.json s4.json "d[\"grid\"][0][\"source\"] = \"measured on site\"" &&
	expect_error 3 "s4.json: grid.0.source: the report says" resque audit report s4.json --key alice.pub &&
	edit r.json s5.json "d[\"grid\"][0][\"note\"] = 1" &&
	expect_error 3 "s5.json: grid.0.note: the report states a figure the entries do not give" \
		resque audit report s5.json --key alice.pub
'

test_expect_success 'an HTML report must be exactly what resque writes: labels, hidden rows, styles, links' '
	sed "s/<section id=\"updates\"/<section hidden id=\"updates\"/" r.html >h1.html && ! cmp -s r.html h1.html &&
	expect_error 3 "differs from the report resque writes for the checked figures" resque audit report h1.html --key alice.pub &&
	sed "s|</style>|td[data-rq=\"totals.carbon_kg\"]::after{content:\"0.1\"}</style>|" r.html >h2.html && ! cmp -s r.html h2.html &&
	expect_error 3 "h2.html: line " resque audit report h2.html --key alice.pub &&
	sed "s|<h2|<img src=\"http://example.org/x.png\"><h2|" r.html >h3.html && ! cmp -s r.html h3.html &&
	expect_failure 3 resque audit report h3.html --key alice.pub &&
	sed "s|>measured<|>audited<|" r.html >h4.html && ! cmp -s r.html h4.html &&
	expect_failure 3 resque audit report h4.html --key alice.pub
'

test_expect_success '-C on a copy of the repository rolled back, or with an edited Merkle cache, fails' '
	cp -r p rolled && git --git-dir=rolled/.resque update-ref refs/heads/ledger ledger~2 &&
	expect_error 3 "does not contain this report'"'"'s history" resque audit report r.json --key alice.pub -C rolled &&
	cp -r p cache && (cd cache && n=$(git --git-dir=.resque rev-list --count ledger) &&
		expect_success resque verify && sqlite3 .resque/index.db "UPDATE merkle SET hash=zeroblob(32) WHERE level=2 AND idx=0") &&
	expect_failure 3 resque audit report r.json --key alice.pub -C cache &&
	grep_err "index.db"
'

test_expect_success 'a key file that is a device or missing: one line, no hang' '
	expect_error 1 "/dev/zero: larger than" resque audit report r.json --key /dev/zero &&
	expect_error 1 "/dev/zero: larger than" resque audit report /dev/zero --key alice.pub &&
	expect_error 1 "missing.pub: cannot read" resque audit report r.json --key missing.pub
'

test_expect_success 'unreadable input: exit 1 with the file and the reason' '
	head -c 3000 r.json >t.json &&
	expect_error 1 "t.json: " resque audit report t.json --key alice.pub &&
	echo "hello" >x.txt &&
	expect_error 1 "x.txt: not a report" resque audit report x.txt --key alice.pub &&
	echo "{\"totals\": {}}" >n.json &&
	expect_error 1 "n.json: not a resque report with evidence" resque audit report n.json --key alice.pub &&
	edit r.json b1.json "d[\"evidence\"][\"entries\"][2][\"bytes\"] = \"*\" + d[\"evidence\"][\"entries\"][2][\"bytes\"][1:]" &&
	expect_error 1 "b1.json: evidence entry 2: its bytes are not base64" resque audit report b1.json --key alice.pub &&
	edit r.json b2.json "d[\"evidence\"][\"entries\"][1][\"proof\"][0] = \"AAAA\"" &&
	expect_error 1 "b2.json: evidence entry 1: proof hash 0 is not base64 of 32 bytes" resque audit report b2.json --key alice.pub &&
	edit r.json b3.json "d[\"evidence\"][\"checkpoint\"] = \"garbage\"" &&
	expect_error 1 "b3.json" resque audit report b3.json --key alice.pub &&
	expect_error 1 "no-such.json" resque audit report no-such.json --key alice.pub &&
	expect_error 1 "--key" resque audit report r.json --key "not a key"
'

test_expect_success 'a proof or signature edited in the evidence fails with exit 3' '
	edit r.json g1.json "
	e = d[\"evidence\"][\"entries\"][1]
	h = bytearray(base64.b64decode(e[\"proof\"][0])); h[0] ^= 1
	e[\"proof\"][0] = base64.b64encode(bytes(h)).decode()" &&
	expect_error 3 "g1.json: entry 1: its inclusion proof does not verify" resque audit report g1.json --key alice.pub &&
	edit r.json g2.json "
	e = d[\"evidence\"][\"entries\"][2]
	e[\"sig\"] = e[\"sig\"][:-3] + (\"0\" if e[\"sig\"][-3] != \"0\" else \"1\") + e[\"sig\"][-2:]" &&
	expect_error 3 "g2.json: entry 2: bad signature" resque audit report g2.json --key alice.pub
'

test_expect_success 'usage errors exit 2' '
	expect_error 2 "--key" resque audit report r.json &&
	expect_error 2 "FILE" resque audit report --key alice.pub
'

test_done
