#!/bin/sh
# Grid intensity in plans and commits: `resque config region` validated
# against the carbon table, carbon of a commit from its region, --region,
# --intensity and --pue in plans, and `plan --when` against a python search.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

# The rows of CodeCarbon's country table this test needs (see docs/DATA.md
# for the command that extracted them).
CI_CSV="$RQ_ROOT/tests/data/carbon/country-intensity-ref.csv"
# intensity ISO3: the reference figure, read from the source data directly
intensity() {
	"$PY" -c 'import csv,sys; print([r[3] for r in csv.reader(open(sys.argv[1])) if r and r[0] == sys.argv[2]][0])' "$CI_CSV" "$1"
}

test_expect_success 'setup: a repository with v1 and its embeddings' '
	expect_success resque init p && cd p && printf w1 >w1.bin &&
	"$PY" -c "
import numpy as np
for name, seed, shift in ((\"d1\", 1, 0), (\"d2\", 2, 0.7)):
    g = np.random.default_rng(seed); y = g.integers(0, 3, 200)
    c = np.random.default_rng(7).standard_normal((3, 6)) * 2
    x = c[y] + g.standard_normal((200, 6)) + shift * g.standard_normal(6)
    np.save(name + \"-emb.npy\", x.astype(np.float32)); np.save(name + \"-lab.npy\", y.astype(np.int64))
" &&
	printf "{\"epochs\": 20, \"energy_kwh\": 10, \"duration_s\": 36000}" >cost.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost.json &&
	grep -q "carbon is not recorded" "$ERR"
'

test_expect_success 'config region: an unknown code is refused with close matches and changes nothing' '
	cd p && before=$(repo_state) &&
	expect_error 1 "region '"'"'FRX'"'"': unknown grid region; close matches: FR" resque config region FRX &&
	expect_error 1 "unknown grid region" resque config region nowhere-land &&
	test "$(repo_state)" = "$before" &&
	expect_success resque config region FRA && expect_success resque config region && grep_out "^FRA$" &&
	expect_success resque config region FR
'

test_expect_success 'commit: carbon from the repository region, then from the cost file region' '
	cd p && printf w2 >w2.bin && printf w3 >w3.bin &&
	expect_success resque commit --weights w2.bin --name v2 --parent v1 --cost cost.json &&
	! grep -q "carbon is not recorded" "$ERR" &&
	expect_success resque show v2 --json &&
	test "$(json_get "$OUT" "abs(d[\"cost\"][\"carbon_kg\"] - 10 * $(intensity FRA) / 1000) < 1e-9")" = True &&
	printf "{\"epochs\": 20, \"energy_kwh\": 10, \"duration_s\": 36000, \"region\": \"DE\", \"pue\": 1.5}" >cost-de.json &&
	expect_success resque commit --weights w3.bin --name v3 --parent v2 --cost cost-de.json &&
	expect_success resque show v3 --json &&
	test "$(json_get "$OUT" "abs(d[\"cost\"][\"carbon_kg\"] - 10 * 1.5 * $(intensity DEU) / 1000) < 1e-9")" = True
'

test_expect_success 'commit: an unknown region in the cost file is refused, nothing written' '
	cd p && before=$(repo_state) && printf w4 >w4.bin &&
	printf "{\"epochs\": 20, \"energy_kwh\": 10, \"duration_s\": 36000, \"region\": \"Atlantis\"}" >cost-x.json &&
	expect_error 1 "cost-x.json: region '"'"'Atlantis'"'"': unknown grid region" resque commit --weights w4.bin --name v4 --cost cost-x.json &&
	test "$(repo_state)" = "$before"
'

test_expect_success 'plan: the configured region, --region, --intensity and --pue set carbon' '
	cd p &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --json && cp "$OUT" fr.json &&
	test "$(json_get fr.json "d[\"plans\"][0][\"region\"]")" = FR &&
	test "$(json_get fr.json "(lambda p: abs(p[\"forecast\"][\"carbon_kg\"][\"mean\"] - p[\"forecast\"][\"energy_kwh\"][\"mean\"] * $(intensity FRA) / 1000) < 1e-9)(d[\"plans\"][0])")" = True &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --json --region DEU && cp "$OUT" de.json &&
	test "$(json_get de.json "(lambda p: abs(p[\"forecast\"][\"carbon_kg\"][\"p90\"] - p[\"forecast\"][\"energy_kwh\"][\"p90\"] * $(intensity DEU) / 1000) < 1e-9)(d[\"plans\"][0])")" = True &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --json --region DE --intensity 250 --pue 1.4 && cp "$OUT" ov.json &&
	test "$(json_get ov.json "(lambda p: abs(p[\"forecast\"][\"carbon_kg\"][\"mean\"] - p[\"forecast\"][\"energy_kwh\"][\"mean\"] * 1.4 * 250 / 1000) < 1e-9)(d[\"plans\"][0])")" = True &&
	test "$(json_get ov.json "d[\"plans\"][0][\"pue\"]")" = 1.4 &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --intensity 250 &&
	grep_out "250 g CO2e/kWh \(--intensity\)"
'

test_expect_success 'plan: a cloud region brings its PUE; resque.pue overrides it' '
	cd p && expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --json --region aws:eu-west-3 &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"pue\"] > 1")" = True &&
	expect_success resque config pue 1.05 &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --json --region aws:eu-west-3 &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"pue\"]")" = 1.05 &&
	expect_success resque config --unset pue
'

test_expect_success 'plan --when proposes the least-carbon start, as a python search finds it' '
	cd p && "$PY" -c "
import math
# 48 hourly points; a cheap window in the night of the second day
rows = [\"time,carbon_intensity\"]
for h in range(48):
    g = 300 + 120 * math.sin(h / 24 * 2 * math.pi) - (150 if 26 <= h <= 31 else 0) + (h * 7) % 13
    rows.append(\"2030-03-%02dT%02d:00:00Z,%.1f\" % (1 + h // 24, h % 24, g))
open(\"fc.csv\", \"w\").write(\"\\n\".join(rows) + \"\\n\")
" &&
	RESQUE_NOW=2030-03-01T00:00:00Z expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --json --when fc.csv &&
	cp "$OUT" when.json &&
	"$PY" - when.json fc.csv <<-\PYEOF
	import csv, json, sys
	from datetime import datetime, timezone
	p = json.load(open(sys.argv[1]))["plans"][0]
	rows = list(csv.reader(open(sys.argv[2])))[1:]
	ts = [datetime.strptime(r[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() for r in rows]
	gs = [float(r[1]) for r in rows]
	end = ts[-1] + 3600
	d = p["forecast"]["duration_s"]["mean"]
	def integral(s):
	    tot = 0.0
	    for i, t in enumerate(ts):
	        hi = ts[i + 1] if i + 1 < len(ts) else end
	        lo2, hi2 = max(t, s), min(hi, s + d)
	        if hi2 > lo2: tot += gs[i] * (hi2 - lo2)
	    return tot
	cands = sorted(set([t for t in ts] + [t - d for t in ts] + [end - d] + [ts[0]]))
	cands = [c for c in cands if ts[0] <= c <= end - d]
	best = min(cands, key=lambda c: (round(integral(c), 6), c))
	start = datetime.strptime(p["when"]["start"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
	assert abs(integral(start) - integral(best)) <= 1e-6 * integral(best), (p["when"], best, d)
	assert abs(start - best) < 1.0, (p["when"]["start"], best)
	assert abs(p["when"]["mean_g_per_kwh"] - integral(best) / d) < 1e-6 * integral(best) / d
	PYEOF
	RESQUE_NOW=2030-03-01T00:00:00Z expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run --when fc.csv &&
	grep_out "best start: 2030-03-02T"
'

test_expect_success 'plan --when: a CSV with a bad value or not covering the run is refused' '
	cd p && before=$(repo_state) &&
	printf "time,g\n2030-01-01T00:00:00Z,-5\n2030-01-01T01:00:00Z,60\n" >neg.csv &&
	expect_error 1 "neg.csv: line 2" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --when neg.csv &&
	printf "time,g\n2030-01-01T00:00:00Z,50\n2030-01-01T00:10:00Z,60\n" >short.csv &&
	RESQUE_NOW=2030-01-01T00:00:00Z expect_error 1 "short.csv" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --when short.csv &&
	test "$(repo_state)" = "$before"
'

test_done
