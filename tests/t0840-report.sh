#!/bin/sh
# resque report: the figures against an independent computation in Python
# over the ledger read with plain git (totals, by method, years, forecast
# quality, savings), --since/--until/--lineage, every format, determinism,
# the unsigned and unverified cases, and bad input.
. "$(dirname "$0")/lib.sh"
test_requires SQLITE3


at() { # TIME COMMAND...: run COMMAND with the clock at TIME
	_t=$1
	shift
	RESQUE_NOW=$_t expect_success "$@"
}

jtrue() { # FILE PYTHON-EXPR (on `d`): must be True
	test "$(json_get "$1" "$2")" = True || { say "not true in $1: $2"; return 1; }
}

plan_id() { # the id of the plan just written (plan --json in $OUT)
	json_get "$OUT" "d[\"plans\"][0][\"id\"]"
}

# The reference: the report's figures recomputed from the ledger read with
# plain git, by rules written independently of core/report/report.c.
cat >ref.py <<'PYEOF'
import base64, json, subprocess, sys, statistics, calendar, time

def entries(gitdir):
    """(id, entry) in sequence order, the id being SHA-256 of the stored bytes."""
    import hashlib
    revs = subprocess.run(["git", "--git-dir", gitdir, "rev-list", "--first-parent", "--reverse", "ledger"],
                          capture_output=True, text=True, check=True).stdout.split()
    out = []
    for r in revs:
        raw = subprocess.run(["git", "--git-dir", gitdir, "show", r + ":entry"], capture_output=True, check=True).stdout
        out.append((hashlib.sha256(raw).hexdigest(), json.loads(raw)))
    return out

def ts(s, end=False):
    if len(s) == 10:
        t = calendar.timegm(time.strptime(s, "%Y-%m-%d"))
        return t + 86399 if end else t
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))

def num(d, k):
    v = d.get(k) if isinstance(d, dict) else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else None

def reference(pairs, since=None, until=None, lineage=None):
    es = [e for _, e in pairs]
    byid = dict(pairs)
    eid = {id(e): k for k, e in pairs}
    lo = ts(since) if since else -2**62
    hi = ts(until, True) if until else 2**62
    inp = lambda e: lo <= ts(e["time"]) <= hi
    keep = set(eid[id(e)] for e in es)
    if lineage:
        def root(k):
            while byid[k]["body"].get("parent") in byid:
                k = byid[k]["body"]["parent"]
            return k
        r = root(lineage)
        keep = set(k for k, e in byid.items() if e["type"] == "version" and root(k) == r)
        for k, e in byid.items():
            if e["type"] == "version" and e["body"].get("cost", {}).get("source", "").startswith("actual:"):
                keep.add(e["body"]["cost"]["source"][7:])
        plans = set(k for k, e in byid.items() if e["type"] == "plan" and e["body"].get("from") in keep)
        keep |= plans
        keep |= set(k for k, e in byid.items() if e["type"] == "actual" and e["body"].get("plan") in plans)
        # a link (record --plan P --actual A) brings the actual it links
        keep |= set(e["body"]["linked_from"] for k, e in byid.items() if k in keep and "linked_from" in e["body"])
    tot = {"energy_kwh": 0.0, "carbon_kg": 0.0, "count": 0}
    bym = {m: {"energy_kwh": 0.0, "carbon_kg": 0.0, "count": 0} for m in ("measured", "estimated", "imported", "declared")}
    years = {}
    def add(e, method, en, co):
        for s in (tot, bym[method], years.setdefault(int(e["time"][:4]), {"energy_kwh": 0.0, "carbon_kg": 0.0, "count": 0})):
            s["energy_kwh"] += en or 0
            s["carbon_kg"] += co or 0
            s["count"] += 1
    for e in es:
        k = eid[id(e)]
        if k not in keep or not inp(e):
            continue
        b = e["body"]
        if e["type"] == "actual" and b.get("linked_from") in byid:
            continue  # a link: its figures are the linked actual's, counted there
        if e["type"] == "actual":
            m = b.get("method") if b.get("method") in ("measured", "estimated") else "imported"
            add(e, m, num(b, "energy_kwh"), num(b, "carbon_kg"))
        elif e["type"] == "version" and "cost" in b:
            src = b["cost"].get("source", "")
            if not (src.startswith("actual:") and src[7:] in byid):
                add(e, "declared", num(b["cost"], "energy_kwh"), num(b["cost"], "carbon_kg"))
    # pairs: each plan with its newest actual, dated by the actual
    newest = {}
    for e in es:
        if e["type"] == "actual" and e["body"].get("plan") in byid:
            newest[e["body"]["plan"]] = e
    q = {o: {"ape": [], "n": 0, "missed": 0, "n80": 0, "in80": 0, "n95": 0, "in95": 0} for o in ("epochs", "energy_kwh", "carbon_kg", "duration_s")}
    saved_e = saved_c = 0.0
    nsaved = 0
    nupdates = 0
    for k, p in byid.items():
        if p["type"] != "plan" or k not in keep:
            continue
        a = newest.get(k)
        if not inp(a if a else p):
            continue
        nupdates += 1
        if not a:
            continue
        for o in q:
            f = p["body"].get("forecast", {}).get(o)
            av = num(a["body"], o)
            if not f or av is None or num(f, "mean") is None:
                continue
            if a["body"].get("target") == "missed":
                q[o]["missed"] += 1
                continue
            q[o]["n"] += 1
            if av != 0:
                # the point forecast is the median when the plan records one
                pt = f["p50"] if f.get("p50") is not None else f["mean"]
                q[o]["ape"].append(100 * abs(av - pt) / av)
            if "p10" in f and "p90" in f:
                q[o]["n80"] += 1
                q[o]["in80"] += f["p10"] <= av <= f["p90"]
            if "p2_5" in f and "p97_5" in f:
                q[o]["n95"] += 1
                q[o]["in95"] += f["p2_5"] <= av <= f["p97_5"]
        sc = p["body"].get("scratch", {}).get("energy_kwh")
        if sc is not None:
            sc = sc["mean"] if isinstance(sc, dict) else sc
            saved_e += sc - a["body"]["energy_kwh"]
            nsaved += 1
            scc = p["body"]["scratch"].get("carbon_kg")
            scc = scc["mean"] if isinstance(scc, dict) else scc
            saved_c += scc - a["body"]["carbon_kg"]
    fq = {o: {"n": v["n"], "median_ape": statistics.median(v["ape"]) if v["ape"] else None,
              "zero_actual": v["n"] - len(v["ape"]), "target_missed": v["missed"],
              "inside_p80": v["in80"] / v["n80"] if v["n80"] else None,
              "inside_p95": v["in95"] / v["n95"] if v["n95"] else None} for o, v in q.items()}
    return {"totals": tot, "by_method": bym, "years": [dict(year=y, **years[y]) for y in sorted(years)],
            "forecast_quality": fq, "saved_by_reuse": {"energy_kwh": saved_e, "carbon_kg": saved_c, "updates": nsaved},
            "nupdates": nupdates}

def close(a, b, what):
    if a is None or b is None:
        assert a is None and b is None, (what, a, b)
    else:
        assert abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-300), (what, a, b)

def check(report, ref):
    for k in ("energy_kwh", "carbon_kg", "count"):
        close(report["totals"][k], ref["totals"][k], "totals." + k)
        for m in ref["by_method"]:
            close(report["totals"]["by_method"][m][k], ref["by_method"][m][k], m + "." + k)
    assert [y["year"] for y in report["years"]] == [y["year"] for y in ref["years"]], (report["years"], ref["years"])
    for y, r in zip(report["years"], ref["years"]):
        for k in ("energy_kwh", "carbon_kg", "count"):
            close(y[k], r[k], "years." + k)
    for o, r in ref["forecast_quality"].items():
        for k, v in r.items():
            close(report["forecast_quality"][o][k], v, o + "." + k)
    for k, v in ref["saved_by_reuse"].items():
        close(report["saved_by_reuse"][k], v, "saved." + k)
    assert len([u for u in report["updates"] if u["plan"] and not u["superseded"]]) == ref["nupdates"]

if __name__ == "__main__":
    rep = json.load(open(sys.argv[1]))
    args = dict(a.split("=", 1) for a in sys.argv[3:])
    ref = reference(entries(sys.argv[2]), args.get("since"), args.get("until"), args.get("lineage"))
    check(rep, ref)
    print(json.dumps(ref, sort_keys=True))
PYEOF

test_expect_success 'setup: versions, plans, records, an unlinked actual, two calendar years, two lineages' '
	at 2024-11-03T09:00:00Z resque init p && cd p &&
	expect_success resque config region FR && expect_success resque config hardware rtx3090 &&
	printf w1 >w1.bin && printf w2 >w2.bin && printf w9 >w9.bin &&
	make_embeddings d1 1 0 && make_embeddings d2 2 0.5 && make_embeddings d3 3 2 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"hardware\": \"rtx3090\", \"method\": \"measured\"}" >cost1.json &&
	printf "{\"epochs\": 20, \"energy_kwh\": 8, \"duration_s\": 3600, \"intensity_g_per_kwh\": 100, \"method\": \"estimated\"}" >cost9.json &&
	at 2024-11-04T10:00:00Z resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	at 2024-12-01T10:00:00Z resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --json && p1=$(plan_id) &&
	at 2025-01-05T10:00:00Z resque record --plan "$p1" --epochs 7 --energy-kwh 3.2 --duration-s 1700 --method measured --json &&
	a1=$(json_get "$OUT" "d[\"id\"]") &&
	at 2025-01-06T10:00:00Z resque commit --weights w2.bin --name v2 --parent v1 --embeddings d2-emb.npy --labels d2-lab.npy --actual "$a1" &&
	at 2025-02-01T10:00:00Z resque plan --from v2 --embeddings d3-emb.npy --labels d3-lab.npy --json && p2=$(plan_id) &&
	at 2025-02-10T10:00:00Z resque record --plan "$p2" --epochs 25 --energy-kwh 9.5 --duration-s 5000 &&
	at 2025-02-11T10:00:00Z resque record --plan "$p2" --epochs 19 --energy-kwh 7.7 --duration-s 4500 --method estimated &&
	at 2025-03-01T10:00:00Z resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --json && p3=$(plan_id) &&
	printf "run_id,duration,emissions,energy_consumed,country_iso_code\nr1,10,0.5,2.5,FRA\n" >e.csv &&
	at 2025-03-05T10:00:00Z resque import codecarbon e.csv &&
	at 2025-04-01T10:00:00Z resque commit --weights w9.bin --name v9 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost9.json &&
	at 2025-04-02T10:00:00Z resque plan --from v9 --embeddings d2-emb.npy --labels d2-lab.npy --json && p4=$(plan_id) &&
	at 2025-04-03T10:00:00Z resque record --plan "$p4" --epochs 0 --energy-kwh 0 --duration-s 0 &&
	echo "$p1 $p2 $p3 $p4 $a1" >../ids
'

test_expect_success 'the figures equal an independent computation over the ledger read with git' '
	cd p && expect_success resque report --format json -o r.json && test ! -s "$OUT" &&
	"$PY" ../ref.py r.json .resque >ref.out &&
	jtrue r.json "d[\"totals\"][\"energy_kwh\"] == 43.4" &&
	test "$(json_get r.json "d[\"totals\"][\"count\"]")" = 7 &&
	jtrue r.json "d[\"totals\"][\"by_method\"][\"imported\"][\"energy_kwh\"] == 12" &&
	test "$(json_get r.json "[y[\"year\"] for y in d[\"years\"]]")" = "[2024, 2025]" &&
	jtrue r.json "d[\"totals\"][\"by_method\"][\"declared\"][\"energy_kwh\"] == 20.5" &&
	jtrue r.json "d[\"totals\"][\"by_method\"][\"measured\"][\"energy_kwh\"] == 3.2" &&
	jtrue r.json "d[\"totals\"][\"by_method\"][\"estimated\"][\"energy_kwh\"] == 7.7" &&
	jtrue r.json "d[\"forecast_quality\"][\"epochs\"][\"n\"] == 3" &&
	jtrue r.json "d[\"forecast_quality\"][\"epochs\"][\"zero_actual\"] == 1" &&
	jtrue r.json "d[\"forecast_quality\"][\"epochs\"][\"n_ape\"] == 2" &&
	test "$(json_get r.json "d[\"verified\"]")" = True &&
	test "$(json_get r.json "d[\"checkpoint\"][\"size\"]")" = "$(git --git-dir=.resque rev-list --count ledger)"
'

test_expect_success 'updates: plan rows, an older run, a plan without actual, an unlinked actual' '
	cd p && set -- $(cat ../ids) &&
	"$PY" - r.json "$@" <<-\PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	p1, p2, p3, p4, a1 = sys.argv[2:]
	u = d["updates"]
	rows = {x["plan"]: x for x in u if x["plan"] and not x["superseded"]}
	assert set(rows) == {p1, p2, p3, p4}, rows.keys()
	assert rows[p1]["actual"]["id"] == a1 and rows[p1]["actual"]["energy_kwh"] == 3.2
	assert rows[p2]["actual"]["energy_kwh"] == 7.7, "the newest actual is the pair"
	assert rows[p3]["actual"] is None and rows[p3]["error"] is None
	assert rows[p4]["error"]["epochs"]["ape"] is None and rows[p4]["actual"]["epochs"] == 0
	old = [x for x in u if x["superseded"]]
	assert len(old) == 1 and old[0]["plan"] == p2 and old[0]["actual"]["energy_kwh"] == 9.5 and old[0]["forecast"] is None
	free = [x for x in u if x["plan"] is None]
	assert len(free) == 1 and free[0]["actual"]["energy_kwh"] == 2.5 and free[0]["actual"]["carbon_kg"] == 0.5
	r = rows[p1]
	fe = r["forecast"]["energy_kwh"]
	m = fe["p50"] if fe.get("p50") is not None else fe["mean"]
	assert abs(r["error"]["energy_kwh"]["diff"] - (3.2 - m)) < 1e-12
	assert abs(r["error"]["energy_kwh"]["ape"] - 100 * abs(3.2 - m) / 3.2) < 1e-9
	assert r["inside_p80"] == (r["forecast"]["energy_kwh"]["p10"] <= 3.2 <= r["forecast"]["energy_kwh"]["p90"])
	v = {x["name"]: x for x in d["versions"]}
	assert v["v2"]["counted"] == "actual" and v["v1"]["counted"] == "declared" and v["v9"]["counted"] == "declared"
	assert abs(v["v2"]["cumulative"]["energy_kwh"] - 15.7) < 1e-12
	g = {(x["region"], x["intensity_g_per_kwh"]): x for x in d["grid"]}
	fr = [x for x in d["grid"] if x["region"] == "FR"]
	assert fr and fr[0]["source"] != "as recorded" and fr[0]["year"], fr
	assert any(x["intensity_g_per_kwh"] == 100 and x["source"] == "as recorded" for x in d["grid"]), d["grid"]
	PYEOF
'

test_expect_success '--since/--until select by entry time (a bare --until date is the whole day)' '
	cd p && expect_success resque report --format json --since 2025-01-01 --until 2025-02-10 -o s.json &&
	"$PY" ../ref.py s.json .resque since=2025-01-01 until=2025-02-10 >/dev/null &&
	jtrue s.json "d[\"totals\"][\"energy_kwh\"] == 12.7" &&
	test "$(json_get s.json "d[\"period\"]")" = "{'"'"'since'"'"': '"'"'2025-01-01'"'"', '"'"'until'"'"': '"'"'2025-02-10'"'"'}" &&
	test "$(json_get s.json "[v[\"name\"] for v in d[\"versions\"]]")" = "['"'"'v2'"'"']" &&
	expect_success resque report --format json --until 2025-02-10T09:59:59Z -o s2.json &&
	"$PY" ../ref.py s2.json .resque until=2025-02-10T09:59:59Z >/dev/null &&
	jtrue s2.json "d[\"totals\"][\"energy_kwh\"] == 15.7" &&
	expect_success resque report --format json --since 2026-01-01 -o e.json &&
	test "$(json_get e.json "d[\"totals\"][\"count\"]")" = 0 &&
	test "$(json_get e.json "d[\"forecast_quality\"][\"energy_kwh\"][\"median_ape\"]")" = None
'

test_expect_success '--lineage keeps one lineage: its versions, plans and their actuals' '
	cd p && expect_success resque report --format json --lineage v2 -o l.json &&
	v1=$(resque show v1 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[\"id\"])") &&
	"$PY" ../ref.py l.json .resque lineage=$v1 >/dev/null &&
	test "$(json_get l.json "sorted(v[\"name\"] for v in d[\"versions\"])")" = "['"'"'v1'"'"', '"'"'v2'"'"']" &&
	jtrue l.json "d[\"totals\"][\"energy_kwh\"] == 32.9" &&
	test "$(json_get l.json "len(d[\"lineage\"])")" = 64 &&
	expect_success resque report --format json --lineage v9 -o l9.json &&
	jtrue l9.json "d[\"totals\"][\"energy_kwh\"] == 8"
'

test_expect_success 'the same ledger gives byte-identical JSON' '
	cd p && expect_success resque report --format json -o r2.json && compare r.json r2.json &&
	expect_success resque report --format json && compare r.json "$OUT"
'

test_expect_success 'text and Markdown render every section; CSV has the documented columns' '
	cd p && expect_success resque report &&
	grep_out "^Totals" && grep_out "^By year" && grep_out "^Versions" && grep_out "^Updates" &&
	grep_out "^Forecast quality" && grep_out "^Saved by reuse" && grep_out "^Grid intensities" &&
	grep_out "ledger verified: yes" && grep_out "  declared +20\.5 " && grep_out "  2024 +12\.5 " &&
	grep_out "checkpoint: [0-9]+ entries, root .* \(signed\)" &&
	expect_success resque report --format md &&
	grep_out "^## Totals" && grep_out "^\| --- \| ---: \|" && grep_out "^\| total \| 43\.4 \|" &&
	expect_success resque report --format csv -o r.csv &&
	"$PY" - r.csv r.json <<-\PYEOF
	import csv, json, sys
	rows = list(csv.reader(open(sys.argv[1], newline="")))
	d = json.load(open(sys.argv[2]))
	head = ("plan,time,from,from_name,kind,shift_family,superseded,actual_id,actual_time,actual_method,actual_status,"
	        + ",".join("forecast_%s_mean,forecast_%s_p10,forecast_%s_p90,actual_%s" % (o, o, o, o)
	                   for o in ("epochs", "energy_kwh", "carbon_kg", "duration_s"))
	        + ",error_epochs_ape,error_energy_kwh_ape,error_carbon_kg_ape,error_duration_s_ape,inside_p80,"
	        "scratch_energy_kwh,scratch_carbon_kg,saved_energy_kwh,saved_carbon_kg,target_missed").split(",")
	assert rows[0] == head, rows[0]
	assert len(rows) == len(d["updates"]) + 1
	for r, u in zip(rows[1:], d["updates"]):
	    x = dict(zip(head, r))
	    assert x["plan"] == (u["plan"] or "")
	    if u["actual"]:
	        assert float(x["actual_energy_kwh"]) == u["actual"]["energy_kwh"]
	    if u["forecast"] and u["forecast"]["energy_kwh"]:
	        assert float(x["forecast_energy_kwh_mean"]) == u["forecast"]["energy_kwh"]["mean"]
	    else:
	        assert x["forecast_energy_kwh_mean"] == ""
	PYEOF
'

test_expect_success 'HTML: one file with the report JSON and evidence embedded' '
	cd p && expect_success resque report --format html -o r.html &&
	grep -q "<script type=\"application/json\" id=\"resque-report\">" r.html && grep -q "data-rq=" r.html
'

test_expect_success 'without a signing key: text gives the unsigned root, JSON refuses clearly' '
	cd p && mkdir -p ../nokeys && repo_state >before &&
	RESQUE_HOME="$SCRATCH/nokeys" expect_success resque report &&
	grep_out "\(unsigned: no signing key\)" &&
	RESQUE_HOME="$SCRATCH/nokeys" expect_error 1 "resque: " resque report --format json &&
	grep_err "key" && test ! -s "$OUT" &&
	repo_state >after && compare before after
'

test_expect_success 'bad input: a message, exit 1 or 2, nothing written' '
	cd p && repo_state >before &&
	expect_error 2 "--format must be text, md, json, csv or html, not '"'"'xml'"'"'" resque report --format xml &&
	expect_error 2 "--since yesterday: not a date" resque report --since yesterday &&
	expect_error 2 "--until 2025-13-01: not a date" resque report --until 2025-13-01 &&
	expect_error 1 "the period is empty" resque report --since 2025-02-01 --until 2025-01-01 &&
	expect_error 1 "--lineage: " resque report --lineage nosuch &&
	expect_error 1 "no-such-dir/r.json" resque report --format json -o no-such-dir/r.json &&
	test ! -e no-such-dir && repo_state >after && compare before after
'

test_expect_success 'a ledger that fails verification: the report is printed, verified false, exit 3' '
	cp -r p bad && cd bad &&
	RESQUE_HOME="$SCRATCH/stranger" expect_success resque key gen &&
	cp -r .resque ../bad-index &&
	rq-forge .resque "$(ls "$SCRATCH"/stranger/keys/*.key)" "forged" &&
	# a forged entry: refused before anything is printed, as by every command
	expect_failure 3 resque report && test ! -s "$OUT" && grep_err "not a signer of this ledger" &&
	expect_failure 3 resque report --format json && test ! -s "$OUT" && grep_err "not a signer of this ledger" &&
	# a ledger whose new entries verify but which fails the full check (an
	# old entry'"'"'s attachment lost): printed, marked unverified
	rm -rf .resque && mv ../bad-index .resque && cp -r .resque ../good &&
	# index.db alone disagreeing (its Merkle cache): exit 3 naming it, no report
	sqlite3 .resque/index.db "DELETE FROM merkle WHERE level=0 AND idx=2" &&
	expect_failure 3 resque report && test ! -s "$OUT" && grep_err "index.db.*resque reindex" &&
	rm -rf .resque && mv ../good .resque &&
	c=$(for c in $(git --git-dir=.resque rev-list ledger); do
		git --git-dir=.resque ls-tree "$c" | grep -q "	att$" && echo "$c" && break; done) && { test -n "$c" || { echo "no entry with attachments" >&2; false; }; } &&
	a=$(git --git-dir=.resque rev-parse "$c:att/$(git --git-dir=.resque ls-tree --name-only "$c:att" | head -n 1)") &&
	git --git-dir=.resque cat-file -e "$a" && rm -f .resque/objects/$(echo "$a" | cut -c1-2)/$(echo "$a" | cut -c3-) &&
	{ ! git --git-dir=.resque cat-file -e "$a" 2>/dev/null || { echo "attachment $a of $c still there" >&2; false; }; } &&
	expect_failure 3 resque report && grep_out "ledger verified: NO" &&
	grep_err "the ledger failed verification"
'

test_done
