#!/bin/sh
# What a plan's evidence rests on (issue 14): the training set's size
# (--train-size, the dataset entry, cost files), an actual linked to its
# plan after the fact (record --plan P --actual A), the energy per epoch of
# a base version committed with the actual of its own run, and the
# parameter change computed by commit --parent --weights.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

mkemb() { # OUT-PREFIX SEED ROWS SHIFT: embeddings (ROWS×8 float32) and labels for 3 classes
	"$PY" - "$@" <<-'PYEOF'
	import sys, numpy as np
	out, seed, n, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
	g = np.random.default_rng(seed)
	y = g.integers(0, 3, n)
	centres = np.random.default_rng(7).standard_normal((3, 8)) * 2
	x = centres[y] + g.standard_normal((n, 8)) + shift * g.standard_normal(8)
	np.save(out + "-emb.npy", x.astype(np.float32))
	np.save(out + "-lab.npy", y.astype(np.int64))
	PYEOF
}

plan_json() {
	expect_success resque plan "$@" --json && cp "$OUT" plan.json
}

test_expect_success 'setup: v1 from a cost file stating its training-set size' '
	expect_success resque init p && cd p &&
	printf weights1 >w1.bin &&
	mkemb d1 1 300 0 && mkemb d2 2 250 0.5 &&
	mkdir train && cp d2-lab.npy train/ &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12, \"duration_s\": 7200, \"intensity_g_per_kwh\": 100, \"hardware\": \"gpu\", \"train_size\": 1400}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy \
		--cost cost1.json --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"train_size\"]")" = 1400 &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"train_size_source\"]")" = "cost file" &&
	test "$(json_get "$OUT" "d[\"body\"][\"summary\"][\"rows\"]")" = 300 &&
	expect_success resque dataset add train --labels train/d2-lab.npy &&
	expect_success resque config hardware gpu
'

test_expect_success 'plan --train-size: the size used, its source, energy per epoch scaled by it' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size 700 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size\"]")" = 700 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size_source\"]")" = "--train-size" &&
	test "$(json_get plan.json "abs(d[\"plans\"][0][\"energy_per_epoch\"][\"kwh\"] - 12 / 30 * 700 / 1400) < 1e-12")" = True &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size 700 --dry-run &&
	grep_out "training set: 700 samples \(--train-size\)" &&
	grep_out "per training sample"
'

test_expect_success 'plan without a stated size: unknown, never the embedding rows; no scaling' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size\"]")" = None &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size_source\"]")" = None &&
	test "$(json_get plan.json "abs(d[\"plans\"][0][\"energy_per_epoch\"][\"kwh\"] - 12 / 30) < 1e-12")" = True &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run &&
	grep_out "training set: size unknown"
'

test_expect_success 'plan --dataset: the size is the dataset entry'"'"'s sample count; --train-size wins' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dataset train --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size\"]")" = 250 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size_source\"]")" = "dataset train" &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dataset train --train-size 99 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size\"]")" = 99 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size_source\"]")" = "--train-size"
'

test_expect_success 'the recorded plan and its actual carry the size and where it came from' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size 700 --intensity 50 &&
	plan=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque show "$plan" --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size\"]")" = 700 &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size_source\"]")" = "--train-size" &&
	expect_success resque record --plan "$plan" --epochs 5 --energy-kwh 1 --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size\"]")" = 700 &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size_source\"]")" = plan &&
	expect_success resque record --plan "$plan" --epochs 5 --energy-kwh 1 --train-size 650 --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size\"]")" = 650 &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size_source\"]")" = "--train-size"
'

test_expect_success 'run --train-size and import --train-size record it on the actual' '
	cd p && expect_success resque run --meter estimate --train-size 512 --json -- true &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size\"]")" = 512 &&
	test "$(json_get "$OUT" "d[\"body\"][\"train_size_source\"]")" = "--train-size" &&
	printf "run_id,duration,emissions,energy_consumed\nr1,10,0.5,2.5\n" >e.csv &&
	expect_success resque import codecarbon e.csv --train-size 64 --json &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"train_size\"]")" = 64
'

test_expect_success 'a bad --train-size or cost-file train_size is refused, naming the value; nothing written' '
	cd p && repo_state >before &&
	expect_error 2 "train_size 0 is outside the plausible range" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size 0 &&
	expect_error 2 "train_size 2.5 is not a whole number" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size 2.5 &&
	expect_error 2 "abc" resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size abc &&
	expect_error 2 "train_size -3 is outside the plausible range" \
		resque record --plan "$(json_get plan.json "d[\"plans\"][0][\"id\"]")" --epochs 1 --energy-kwh 1 --train-size -3 &&
	expect_error 2 "train_size 1.5 is not a whole number" resque run --train-size 1.5 -- true &&
	expect_error 2 "train_size 0 is outside" resque import codecarbon e.csv --train-size 0 &&
	printf "{\"epochs\": 3, \"energy_kwh\": 1, \"duration_s\": 1, \"train_size\": 0}" >bad.json &&
	expect_error 1 "bad.json: train_size 0 is outside the plausible range" \
		resque commit --weights w1.bin --name vbad --cost bad.json &&
	printf "{\"epochs\": 3, \"energy_kwh\": 1, \"duration_s\": 1, \"train_size\": \"many\"}" >bad2.json &&
	expect_error 1 "bad2.json: '"'"'train_size'"'"' must be a number" \
		resque commit --weights w1.bin --name vbad --cost bad2.json &&
	repo_state >after && compare before after
'

test_expect_success 'link after the fact: setup, a plan and a run recorded without --plan' '
	cd p && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 50 --shift-family blur &&
	jplan=$(json_get plan.json "d[\"plans\"][0][\"id\"]") && echo "$jplan" >../jplan &&
	expect_success resque run --meter estimate --region FR --json -- \
		sh -c "resque mark epoch; resque mark epoch; resque mark epoch" &&
	cp "$OUT" ../forgot.json &&
	test "$(json_get ../forgot.json "d[\"plan\"]")" = None &&
	test "$(json_get ../forgot.json "len(d[\"body\"][\"epoch_energy_kwh\"])")" = 3 &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family blur --dry-run &&
	json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]" >../n_before &&
	expect_success resque report --format json -o ../before.json
'

test_expect_success 'record --plan P --actual A: a signed link keeping A'"'"'s traces; the plan calibrates on it' '
	cd p && jplan=$(cat ../jplan) && a=$(json_get ../forgot.json "d[\"id\"]") &&
	expect_success resque record --plan "$jplan" --actual "$(echo "$a" | cut -c1-10)" --json &&
	cp "$OUT" ../link.json &&
	"$PY" - ../link.json ../forgot.json "$jplan" <<-\PYEOF
	import json, sys
	l, a, plan = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
	b, ab = l["body"], a["body"]
	assert l["type"] == "actual" and b["plan"] == plan and b["linked_from"] == a["id"], b
	for k in ("epochs", "energy_kwh", "duration_s", "carbon_kg", "epoch_energy_kwh", "epoch_duration_s", "method", "meter"):
	    assert b.get(k) == ab.get(k), (k, b.get(k), ab.get(k))
	assert b["shift_family"] == "blur" and "inside_p80" in b, b
	assert l["plan"] == plan and l["summary"].startswith("link of actual " + a["id"][:12]), l
	PYEOF
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family blur --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"calibration\"][\"n\"]")" = $(( $(cat ../n_before) + 1 ))
'

test_expect_success 'the report counts the linked energy once, and shows the run as the plan'"'"'s update' '
	cd p && jplan=$(cat ../jplan) && a=$(json_get ../forgot.json "d[\"id\"]") &&
	link=$(json_get ../link.json "d[\"id\"]") &&
	expect_success resque report --format json -o ../after.json &&
	test "$(json_get ../after.json "d[\"totals\"][\"energy_kwh\"]")" = "$(json_get ../before.json "d[\"totals\"][\"energy_kwh\"]")" &&
	test "$(json_get ../after.json "d[\"totals\"][\"carbon_kg\"]")" = "$(json_get ../before.json "d[\"totals\"][\"carbon_kg\"]")" &&
	test "$(json_get ../after.json "d[\"totals\"][\"by_method\"][\"estimated\"][\"energy_kwh\"]")" = \
		"$(json_get ../before.json "d[\"totals\"][\"by_method\"][\"estimated\"][\"energy_kwh\"]")" &&
	test "$(json_get ../before.json "[u[\"plan\"] for u in d[\"updates\"] if u[\"actual\"] and u[\"actual\"][\"id\"] == \"$a\"]")" = "[None]" &&
	test "$(json_get ../after.json "[u[\"plan\"] for u in d[\"updates\"] if u[\"actual\"] and u[\"actual\"][\"id\"] in (\"$a\", \"$link\")]")" = "['"'"'$jplan'"'"']" &&
	expect_success resque key export && cp "$OUT" ../me.pub &&
	expect_success resque audit report ../after.json --key ../me.pub &&
	expect_success resque log && grep_out "link of actual $(echo "$a" | cut -c1-12) to plan $(echo "$jplan" | cut -c1-12)"
'

test_expect_success 'record --actual: bad links are refused with a message; nothing written' '
	cd p && jplan=$(cat ../jplan) && a=$(json_get ../forgot.json "d[\"id\"]") &&
	link=$(json_get ../link.json "d[\"id\"]") && repo_state >before &&
	expect_error 1 "already linked to plan $(echo "$jplan" | cut -c1-12) (by entry $(echo "$link" | cut -c1-12))" \
		resque record --plan "$jplan" --actual "$a" &&
	expect_error 1 "is already linked to plan $(echo "$jplan" | cut -c1-12) (it is itself a link)" \
		resque record --plan "$jplan" --actual "$link" &&
	expect_error 1 "--plan $a:" resque record --plan "$a" --actual "$a" &&
	expect_error 1 "--actual $jplan:" resque record --plan "$jplan" --actual "$jplan" &&
	expect_error 1 "--actual v1:" resque record --plan "$jplan" --actual v1 &&
	expect_error 2 "drop --epochs" resque record --plan "$jplan" --actual "$a" --epochs 3 &&
	expect_error 2 "drop --epoch-energy-kwh" resque record --plan "$jplan" --actual "$a" --epoch-energy-kwh 1,2 &&
	expect_error 2 "drop --train-size" resque record --plan "$jplan" --actual "$a" --train-size 10 &&
	expect_error 2 "missing --plan ID" resque record --actual "$a" &&
	repo_state >after && compare before after
'

test_expect_success 'energy on the first plan: v1 committed with --actual of its own metered run' '
	expect_success resque init q && cd q && cp ../p/d1-emb.npy ../p/d1-lab.npy ../p/d2-emb.npy ../p/d2-lab.npy . &&
	printf weights >w.bin && expect_success resque config hardware cpu-box &&
	expect_success resque run --meter estimate --interval 0.02 --train-size 300 --json -- sh -c \
		"for e in 1 2 3 4; do i=0; while [ \$i -lt 40000 ]; do i=\$((i+1)); done; resque mark epoch; done" &&
	cp "$OUT" ../own.json &&
	test "$(json_get ../own.json "len(d[\"body\"][\"epoch_energy_kwh\"])")" = 4 &&
	expect_success resque commit --weights w.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy \
		--actual "$(json_get ../own.json "d[\"id\"]")" &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --train-size 300 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"forecast\"][\"energy_kwh\"] is not None")" = True &&
	test "$(json_get plan.json "d[\"plans\"][0][\"energy_per_epoch\"][\"runs\"]")" = 1 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"energy_per_epoch\"][\"epochs\"]")" = 3 &&
	"$PY" - plan.json ../own.json <<-\PYEOF
	import json, sys
	p, a = json.load(open(sys.argv[1]))["plans"][0], json.load(open(sys.argv[2]))["body"]
	# STEP over the stable epochs of the run (the first is warm-up), on its hardware
	assert "STEP" in p["energy_per_epoch"]["source"] and "cpu-box" in p["energy_per_epoch"]["source"], p["energy_per_epoch"]
	assert p["energy_per_epoch"]["kwh"] > 0
	PYEOF
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run &&
	grep_out "energy per epoch: [0-9.e-]+ kWh \(STEP" &&
	! grep -q -E "energy \(kWh\) +not forecast" "$OUT"
'

test_expect_success 'the run linked to a plan later counts once, as that plan'"'"'s update' '
	cd q && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy &&
	p=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque record --plan "$p" --actual "$(json_get ../own.json "d[\"id\"]")" &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"energy_per_epoch\"][\"runs\"]")" = 1
'

test_expect_success 'commit --parent --weights: the parameter change, on the update'"'"'s actual; the next plan calibrates it' '
	expect_success resque init r && cd r && cp ../p/d1-emb.npy ../p/d1-lab.npy ../p/d2-emb.npy ../p/d2-lab.npy ../p/cost1.json . &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w2.safetensors 1 --scale 0.01 &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w3.safetensors 1 --scale 0.03 &&
	expect_success resque commit --weights w1.safetensors --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque config hardware gpu &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family noise --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"forecast\"][\"param_change\"]")" = None &&
	for round in 2 3; do
		plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family noise &&
		p=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
		expect_success resque run --plan "$p" --meter estimate --json -- sh -c "resque mark epoch; resque mark epoch" &&
		a=$(json_get "$OUT" "d[\"id\"]") &&
		expect_success resque commit --parent v1 --weights w$round.safetensors --name v$round --json &&
		cp "$OUT" ../v$round.json &&
		test "$(json_get ../v$round.json "d[\"body\"][\"param_change\"][\"actual\"]")" = "$a" &&
		test "$(json_get ../v$round.json "d[\"body\"][\"param_change\"][\"parent\"]")" = "$(json_get ../v$round.json "d[\"body\"][\"parent\"]")" &&
		expect_success resque diff v1 v$round --params --json &&
		test "$(json_get "$OUT" "d[\"params\"][\"mean\"]")" = "$(json_get ../v$round.json "d[\"body\"][\"param_change\"][\"value\"]")" ||
		return 1
	done &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family noise --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"forecast\"][\"param_change\"] is not None")" = True &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family noise --dry-run &&
	! grep -q -E "param change +not forecast" "$OUT"
'

test_expect_success 'commit --parent --actual: the change goes with the named actual' '
	cd r && plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shift-family noise &&
	p=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque run --plan "$p" --meter estimate --json -- sh -c "resque mark epoch" &&
	a=$(json_get "$OUT" "d[\"id\"]") &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w4.safetensors 1 --scale 0.02 &&
	expect_success resque commit --parent v1 --weights w4.safetensors --name v4 --actual "$a" --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"param_change\"][\"actual\"]")" = "$a" &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"source\"]")" = "actual:$a"
'

test_expect_success 'the parent'"'"'s weights changed or gone: a note saying why, the version recorded without it' '
	cd r && "$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w5.safetensors 1 --scale 0.05 &&
	cp w1.safetensors w1.keep && "$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 9 &&
	expect_success resque commit --parent v1 --weights w5.safetensors --name v5 --json &&
	grep_err "note: parameter change not computed: .*w1.safetensors is no longer the weights of version v1 \(its fingerprint changed\)" &&
	test "$(json_get "$OUT" "\"param_change\" in d[\"body\"]")" = False &&
	rm w1.safetensors &&
	expect_success resque commit --parent v1 --weights w5.safetensors --name v6 --json &&
	grep_err "note: parameter change not computed: the weights of version v1 are not at hand: .*w1.safetensors" &&
	test "$(json_get "$OUT" "\"param_change\" in d[\"body\"]")" = False &&
	mv w1.keep w1.safetensors && printf "not weights" >w7.bin &&
	expect_success resque commit --parent v1 --weights w7.bin --name v7 &&
	grep_err "note: parameter change not computed: .*w7.bin"
'

test_done
