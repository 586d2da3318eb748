#!/bin/sh
# resque plan and resque record: the index against `resque measure`, the
# cold-start prior, calibration growing with recorded actuals (family and
# pooled bases), ranking, the --json contract, and every bad input.
. "$(dirname "$0")/lib.sh"
test_requires B2SUM

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

# plan_json ARGS...: run `resque plan ARGS --json`, output in plan.json.
plan_json() {
	expect_success resque plan "$@" --json && cp "$OUT" plan.json
}

test_expect_success 'setup: a repository with v1 trained from scratch' '
	expect_success resque init p && cd p &&
	printf weights1 >w1.bin && printf weights2 >w2.bin &&
	mkemb d1 1 8 0 && mkemb d2 2 8 0.5 && mkemb d3 3 8 2 && mkemb wide 4 16 0 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"intensity_g_per_kwh\": 100, \"hardware\": \"rtx3090\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque config hardware rtx3090
'

test_expect_success 'cold start: an uncalibrated prior from E0, said plainly; --dry-run writes nothing' '
	cd p && before=$(repo_state) &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --dry-run &&
	test "$(repo_state)" = "$before" &&
	test "$(json_get plan.json "len(d[\"plans\"])")" = 1 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"prior_only\"]")" = True &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]")" = 0 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"basis\"]")" = prior &&
	test "$(json_get plan.json "d[\"plans\"][0][\"id\"]")" = None &&
	test "$(json_get plan.json "d[\"plans\"][0][\"from\"]")" = v1 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"kind\"]")" = dist &&
	test "$(json_get plan.json "(lambda p: abs(p[\"forecast\"][\"epochs\"][\"mean\"] - 30 * min(1, p[\"index\"] / 0.5)) < 1e-9)(d[\"plans\"][0])")" = True &&
	test "$(json_get plan.json "d[\"plans\"][0][\"scratch\"][\"epochs\"] == 30")" = True &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run &&
	grep_out "UNCALIBRATED" && grep_out "dry run, not recorded" &&
	test "$(repo_state)" = "$before"
'

test_expect_success 'the --json contract: every documented field, quantiles ordered' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --dry-run &&
	"$PY" - plan.json <<-\PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	p = d["plans"][0]
	for k in ("from", "kind", "index", "calibration", "forecast", "scratch", "id"):
	    assert k in p, k
	assert set(("n", "prior_only")) <= set(p["calibration"])
	for k in ("epochs", "energy_kwh", "carbon_kg", "duration_s", "param_change", "grad_norm"):
	    assert k in p["forecast"], k
	for k in ("epochs", "energy_kwh", "carbon_kg", "duration_s"):
	    q = p["forecast"][k]
	    assert q["p2_5"] <= q["p10"] <= q["mean"] <= q["p90"] <= q["p97_5"], (k, q)
	assert p["forecast"]["param_change"] is None and p["forecast"]["grad_norm"] is None
	for k in ("epochs", "energy_kwh", "carbon_kg"):
	    assert k in p["scratch"], k
	# carbon = energy x PUE x intensity / 1000, energy per epoch from v1 (12.5 / 30)
	f = p["forecast"]
	assert abs(f["carbon_kg"]["mean"] - f["energy_kwh"]["mean"] * 100 / 1000) < 1e-12
	assert abs(p["energy_per_epoch"]["kwh"] - 12.5 / 30) < 1e-12, p["energy_per_epoch"]
	assert abs(f["energy_kwh"]["mean"] - f["epochs"]["mean"] * 12.5 / 30) < 1e-9
	PYEOF
'

test_expect_success 'the plan index equals resque measure dist and measure task on the same files' '
	cd p && plan_json --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --dry-run &&
	expect_success resque measure dist --old d1-emb.npy:d1-lab.npy --new d3-emb.npy:d3-lab.npy --json &&
	test "$(json_get plan.json "d[\"plans\"][0][\"index\"]")" = "$(json_get "$OUT" "d[\"value\"]")" &&
	plan_json --from v1 --kind task --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"kind\"]")" = task &&
	expect_success resque measure task --embeddings d3-emb.npy --labels d3-lab.npy --json &&
	test "$(json_get plan.json "d[\"plans\"][0][\"index\"]")" = "$(json_get "$OUT" "d[\"value\"]")" &&
	test "$(json_get plan.json "(lambda p: abs(p[\"forecast\"][\"epochs\"][\"mean\"] - 30 * min(1, p[\"index\"] / 1.0)) < 1e-9)(d[\"plans\"][0])")" = True
'

test_expect_success 'plan --dataset alone uses the summary recorded with dataset add --embeddings' '
	cd p && mkdir -p new3 && cp d3-emb.npy d3-lab.npy new3/ &&
	expect_success resque dataset add new3 --embeddings d3-emb.npy --labels d3-lab.npy --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"embeddings\"][\"fingerprint\"]")" = "b2:$(b2sum -l 256 d3-emb.npy | cut -d" " -f1)" &&
	plan_json --from v1 --dataset new3 --intensity 100 --dry-run &&
	expect_success resque measure dist --old d1-emb.npy:d1-lab.npy --new d3-emb.npy:d3-lab.npy --json &&
	test "$(json_get plan.json "d[\"plans\"][0][\"index\"]")" = "$(json_get "$OUT" "d[\"value\"]")" &&
	repo_state >before &&
	mkdir -p new4 && echo x >new4/x &&
	expect_failure 2 resque dataset add new4 --embeddings d3-emb.npy && grep_err "needs --labels" &&
	expect_failure 1 resque dataset add new4 --embeddings d3-emb.npy --labels d1-lab.npy.missing &&
	repo_state >after && compare before after &&
	expect_success resque verify
'

test_expect_success 'a recorded plan is a signed entry; record --plan links an actual; verify is clean' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family noise &&
	plan1=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque show "$plan1" --json &&
	test "$(json_get "$OUT" "d[\"type\"]")" = plan &&
	test "$(json_get "$OUT" "d[\"body\"][\"shift_family\"]")" = noise &&
	test "$(json_get "$OUT" "d[\"body\"][\"candidate\"][\"embeddings\"][\"fingerprint\"]")" = "b2:$(b2sum -l 256 d2-emb.npy | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "\"train_size\" in d[\"body\"]")" = False &&
	expect_success resque record --plan "$plan1" --epochs 7 --energy-kwh 3.2 --duration-s 1700 --param-change 0.02 \
		--epoch-energy-kwh 0.9,0.4,0.38,0.41,0.4,0.36,0.35 --json &&
	cp "$OUT" actual.json &&
	test "$(json_get actual.json "d[\"type\"]")" = actual &&
	test "$(json_get actual.json "d[\"body\"][\"plan\"]")" = "$plan1" &&
	test "$(json_get actual.json "d[\"body\"][\"shift_family\"]")" = noise &&
	test "$(json_get actual.json "abs(d[\"body\"][\"carbon_kg\"] - 3.2 * 100 / 1000) < 1e-12")" = True &&
	test "$(json_get actual.json "d[\"body\"][\"inside_p80\"]")" = \
		"$(json_get plan.json "(lambda q: q[\"p10\"] <= 3.2 <= q[\"p90\"])(d[\"plans\"][0][\"forecast\"][\"energy_kwh\"])")" &&
	expect_success resque verify
'

test_expect_success 'calibration grows with actuals: the family own point, partially pooled' '
	cd p && plan_json --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --shift-family noise &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]")" = 1 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"prior_only\"]")" = False &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"basis\"]")" = family &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"model\"]")" = hierarchical &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n_family\"]")" = 1 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"energy_per_epoch\"][\"source\"]")" != "" &&
	json_get plan.json "d[\"plans\"][0][\"energy_per_epoch\"][\"source\"]" | grep -q "STEP" &&
	plan2=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque record --plan "$plan2" --epochs 19 --energy-kwh 7.7 --duration-s 4500 &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family noise --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]")" = 2 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"basis\"]")" = family &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family noise --dry-run &&
	grep_out "2 past update\(s\) in 1 shift family, 2 of them .noise." &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family blur --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"basis\"]")" = pooled &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]")" = 2 &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family blur --dry-run &&
	grep_out "this family has no point yet" &&
	expect_success resque verify
'

test_expect_success 'the family fit follows its points: the forecast lies between them, the interval holds both' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --shift-family noise --dry-run &&
	"$PY" - plan.json <<-\PYEOF
	import json, sys
	p = json.load(open(sys.argv[1]))["plans"][0]
	c, e = p["calibration"], p["forecast"]["epochs"]
	assert c["n_family"] == 2 and c["n_censored"] == 0, c
	assert c["sigma"] > 0 and c["tau_a"] > 0, c
	# every quantile is ordered and the median is the point forecast
	assert e["p2_5"] <= e["p10"] <= e["p50"] <= e["p90"] <= e["p97_5"], e
	assert e["p10"] < e["p90"], e
	PYEOF
'

test_expect_success 'several candidates and several --from are ranked by forecast carbon' '
	cd p && expect_success resque commit --weights w2.bin --name v2 --parent v1 --embeddings d2-emb.npy --labels d2-lab.npy &&
	plan_json --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --embeddings d2-emb.npy --labels d2-lab.npy \
		--intensity 100 --dry-run &&
	test "$(json_get plan.json "len(d[\"plans\"])")" = 2 &&
	test "$(json_get plan.json "[p[\"carbon_kg\"] for p in []] or all(d[\"plans\"][i][\"forecast\"][\"carbon_kg\"][\"mean\"] <= d[\"plans\"][i+1][\"forecast\"][\"carbon_kg\"][\"mean\"] for i in range(len(d[\"plans\"])-1))")" = True &&
	test "$(json_get plan.json "d[\"plans\"][0][\"candidate\"][\"embeddings\"][\"path\"]")" = d2-emb.npy &&
	test "$(json_get plan.json "[p[\"rank\"] for p in d[\"plans\"]]")" = "[1, 2]" &&
	plan_json --from v2 --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --dry-run &&
	test "$(json_get plan.json "len(d[\"plans\"])")" = 2 &&
	test "$(json_get plan.json "all(d[\"plans\"][i][\"forecast\"][\"carbon_kg\"][\"mean\"] <= d[\"plans\"][i+1][\"forecast\"][\"carbon_kg\"][\"mean\"] for i in range(len(d[\"plans\"])-1))")" = True &&
	test "$(json_get plan.json "sorted(p[\"from\"] for p in d[\"plans\"])")" = "[$(printf "%s" "'"'"'v1'"'"', '"'"'v2'"'"'")]" &&
	expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --dry-run &&
	grep_out "^#1 of 2 by carbon: plan from v1 on d2-emb.npy" && grep_out "^#2 of 2 by carbon: plan from v1 on d3-emb.npy"
'

test_expect_success 'v2 is in v1 lineage: its plans see the same history' '
	cd p && plan_json --from v2 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --shift-family noise --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]")" = 2 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"scratch\"][\"epochs\"] == 30")" = True
'

test_expect_success 'record: bad inputs are refused with a message and change nothing' '
	cd p && before=$(repo_state) && plan=$(resque log --json | json_get /dev/stdin "[e[\"id\"] for e in (d if isinstance(d, list) else d[\"entries\"]) if e[\"type\"] == \"plan\"][0]") &&
	expect_error 1 "--plan 0123456789ab" resque record --plan 0123456789ab --epochs 3 --energy-kwh 1 &&
	expect_error 1 "--energy-kwh must be a non-negative number, not -2" resque record --plan "$plan" --epochs 3 --energy-kwh -2 &&
	expect_error 1 "--epochs must be a non-negative number" resque record --plan "$plan" --epochs -1 --energy-kwh 2 &&
	expect_error 1 "--epoch-energy-kwh" resque record --plan "$plan" --epochs 3 --energy-kwh 2 --epoch-energy-kwh 1,x &&
	expect_error 2 "--energy-kwh takes a number" resque record --plan "$plan" --epochs 3 --energy-kwh nan &&
	expect_error 2 "give --plan ID, --epochs N and --energy-kwh X" resque record --plan "$plan" --epochs 3 &&
	v1=$(resque show v1 --json | json_get /dev/stdin "d[\"id\"]") &&
	expect_error 1 "--plan $v1" resque record --plan "$v1" --epochs 3 --energy-kwh 2 &&
	test "$(repo_state)" = "$before"
'

test_expect_success 'plan: bad inputs are refused with a message and change nothing' '
	cd p && before=$(repo_state) &&
	expect_error 1 "--from v9" resque plan --from v9 --embeddings d2-emb.npy --labels d2-lab.npy &&
	expect_error 1 "dimension 8 but the new ones 16" resque plan --from v1 --embeddings wide-emb.npy --labels wide-lab.npy &&
	expect_success resque summarize wide-emb.npy --labels wide-lab.npy -o wide.rqs &&
	expect_error 1 "wide.rqs against version v1" resque plan --from v1 --summary wide.rqs &&
	printf "time,g_per_kwh\n2030-01-01T02:00:00Z,50\n2030-01-01T01:00:00Z,60\n" >bad.csv &&
	expect_error 1 "bad.csv: line 3" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --when bad.csv &&
	expect_error 1 "nosuch.csv" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --when nosuch.csv &&
	expect_error 1 "unknown grid region; close matches: FR" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --region FRX &&
	expect_error 2 "--kind is dist or task" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --kind other &&
	expect_error 2 "one --labels per --embeddings" resque plan --from v1 --embeddings d2-emb.npy &&
	expect_error 2 "--from REF" resque plan --embeddings d2-emb.npy --labels d2-lab.npy &&
	expect_error 2 "--pue must be at least 1" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --pue 0.5 &&
	expect_error 2 "--kind task clusters the rows" resque plan --from v1 --kind task --summary wide.rqs &&
	expect_error 1 "--dataset nope" resque plan --from v1 --dataset nope &&
	expect_error 1 "labels.npy" resque plan --from v1 --embeddings d2-emb.npy --labels labels.npy &&
	test "$(repo_state)" = "$before"
'

test_expect_success 'a version without a summary, or a lineage without E0, is explained' '
	cd p && printf w3 >w3.bin && expect_success resque commit --weights w3.bin --name lone &&
	before=$(repo_state) &&
	expect_error 1 "version lone records no representation summary" resque plan --from lone --embeddings d2-emb.npy --labels d2-lab.npy &&
	expect_error 1 "cannot forecast epochs" resque plan --from lone --kind task --embeddings d2-emb.npy --labels d2-lab.npy &&
	test "$(repo_state)" = "$before"
'

test_expect_success 'help comes from the option table' '
	expect_success resque plan --help && grep_out "--shift-family" && grep_out "--dry-run" &&
	expect_success resque record --help && grep_out "--energy-kwh" && grep_out "--epoch-energy-kwh"
'

test_done
