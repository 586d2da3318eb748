#!/bin/sh
# Runs that missed their target: `target reached|missed` in RESQUE_EVENTS
# and `resque mark target`, `record --target-missed/--target-reached`, the
# import flags, the actual's "target" field in show/log/--json, and the
# report leaving missed pairs out of its error figures (and saying so).
. "$(dirname "$0")/lib.sh"
test_requires NUMPY


plan_id() { # the id of the plan just written (plan --json in $OUT)
	json_get "$OUT" "d[\"plans\"][0][\"id\"]"
}

count() { # the number of ledger entries
	git --git-dir=.resque rev-list --count ledger
}

test_expect_success 'setup: a version and three plans' '
	expect_success resque init p && cd p &&
	expect_success resque config region FR && expect_success resque config hardware rtx3090 &&
	printf w1 >w1.bin && make_embeddings d1 1 0 && make_embeddings d2 2 0.5 && make_embeddings d3 3 1 && make_embeddings d4 4 2 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12, \"duration_s\": 7200, \"method\": \"measured\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --json && plan_id >../p1 &&
	expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --json && plan_id >../p2 &&
	expect_success resque plan --from v1 --embeddings d4-emb.npy --labels d4-lab.npy --json && plan_id >../p3
'

test_expect_success 'mark target missed inside run: the actual records "target": "missed"' '
	cd p && expect_success resque run --meter estimate --json -- \
		sh -c "resque mark epoch && resque mark epoch && resque mark target missed" &&
	test "$(json_get "$OUT" "d[\"target\"]")" = missed &&
	test "$(json_get "$OUT" "d[\"body\"][\"target\"]")" = missed &&
	test "$(json_get "$OUT" "d[\"epochs\"]")" = 2 &&
	grep -F "target missed (the epochs are a lower bound)" "$ERR" &&
	id=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque show "$id" --json &&
	test "$(json_get "$OUT" "d[\"target\"]")" = missed &&
	expect_success resque show "$id" && grep_out "^summary actual .*, target missed$" &&
	expect_success resque log && grep_out "target missed"
'

test_expect_success 'events file lines: the last target line wins; a bad one is a warning' '
	cd p && expect_success resque run --meter estimate --json -- \
		sh -c "printf \"target missed\\ntarget maybe\\n\\ttarget  reached\\r\\n\" >>\"\$RESQUE_EVENTS\"" &&
	test "$(json_get "$OUT" "d[\"target\"]")" = reached &&
	grep -F "line 2: '\''target'\'' takes one word: reached or missed" "$ERR" &&
	expect_success resque run --meter estimate --json -- \
		sh -c "printf \"target reached\\ntarget missed\" >>\"\$RESQUE_EVENTS\"" &&
	test "$(json_get "$OUT" "d[\"target\"]")" = missed
'

test_expect_success 'a run that says nothing of its target records no "target" (null in --json)' '
	cd p && expect_success resque run --meter estimate --json -- true &&
	test "$(json_get "$OUT" "d[\"target\"]")" = None &&
	test "$(json_get "$OUT" "\"target\" in d[\"body\"]")" = False
'

test_expect_success 'mark target: bad words are refused, nothing is written' '
	cd p && : >ev && repo_state >before &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "mark target: '\''maybe'\'' is neither '\''reached'\'' nor '\''missed'\''" \
		resque mark target maybe &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "is neither" resque mark target Missed &&
	RESQUE_EVENTS=$PWD/ev expect_failure 2 resque mark target && grep_err "missing reached\|missed" &&
	RESQUE_EVENTS=$PWD/ev expect_failure 2 resque mark target missed extra &&
	test ! -s ev &&
	RESQUE_EVENTS=$PWD/ev expect_success resque mark target missed &&
	printf "target missed\n" >want && compare want ev &&
	expect_error 1 "RESQUE_EVENTS is not set" resque mark target reached &&
	expect_success resque mark target --help && grep_out "budget" &&
	repo_state >after && compare before after
'

test_expect_success 'record --target-missed and --target-reached' '
	cd p && p1=$(cat ../p1) && p2=$(cat ../p2) &&
	expect_success resque record --plan "$p1" --epochs 60 --energy-kwh 6 --target-missed &&
	grep_out "target missed \(the epochs are a lower bound\)" &&
	expect_success resque record --plan "$p2" --epochs 8 --energy-kwh 2 --target-reached --json &&
	test "$(json_get "$OUT" "d[\"target\"]")" = reached &&
	expect_success resque record --help && grep_out "target-missed"
'

test_expect_success 'record with both flags is refused; the repository is unchanged' '
	cd p && p1=$(cat ../p1) &&
	unchanged_after 2 "--target-missed and --target-reached exclude each other" \
		resque record --plan "$p1" --epochs 60 --energy-kwh 6 --target-missed --target-reached
'

test_expect_success 'import codecarbon and nvidia-smi with --target-missed / --target-reached' '
	cd p &&
	printf "run_id,duration,emissions,energy_consumed,country_iso_code\nr1,10,0.5,2.5,FRA\n" >e1.csv &&
	expect_success resque import codecarbon e1.csv --target-missed --epochs 60 --json &&
	test "$(json_get "$OUT" "d[0][\"target\"]")" = missed &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"target\"]")" = missed &&
	printf "timestamp, name, index, power.draw [W]\n2023/03/08 13:11:36.142, GPU, 0, 100.00 W\n2023/03/08 13:11:46.142, GPU, 0, 120.00 W\n" >nv.csv &&
	expect_success resque import nvidia-smi nv.csv --target-reached --json &&
	test "$(json_get "$OUT" "d[0][\"target\"]")" = reached &&
	expect_success resque import codecarbon --help && grep_out "target-missed" &&
	expect_success resque import nvidia-smi --help && grep_out "target-reached"
'

test_expect_success 'import: both flags, or a flag for several runs, are refused; the repository is unchanged' '
	cd p &&
	printf "run_id,duration,emissions,energy_consumed\nr8,10,0.5,2.5\nr9,10,0.5,2.5\n" >e2.csv &&
	unchanged_after 2 "--target-missed and --target-reached exclude each other" \
		resque import codecarbon e2.csv --run-id r8 --target-missed --target-reached &&
	unchanged_after 1 "e2.csv holds 2 runs: choose one with --run-id" \
		resque import codecarbon e2.csv --target-missed &&
	printf "timestamp, power.draw [W]\n2023/03/08 13:11:36.142, 100 W\n2023/03/08 13:11:46.142, 100 W\n" >nv2.csv &&
	unchanged_after 2 "--target-missed and --target-reached exclude each other" \
		resque import nvidia-smi nv2.csv --target-reached --target-missed
'

test_expect_success 'the report leaves the missed pair out of APE and coverage, and says how many' '
	cd p && p1=$(cat ../p1) && p2=$(cat ../p2) && p3=$(cat ../p3) &&
	expect_success resque record --plan "$p3" --epochs 5 --energy-kwh 1.5 &&
	expect_success resque report --format json -o r.json &&
	"$PY" - r.json "$p1" "$p2" "$p3" <<-\PYEOF
	import json, statistics, sys
	d = json.load(open(sys.argv[1]))
	p1, p2, p3 = sys.argv[2:]
	rows = {u["plan"]: u for u in d["updates"] if u["plan"] and not u["superseded"]}
	assert rows[p1]["target_missed"] is True and rows[p1]["actual"]["target"] == "missed", rows[p1]
	assert rows[p2]["target_missed"] is False and rows[p2]["actual"]["target"] == "reached"
	assert rows[p3]["target_missed"] is False and rows[p3]["actual"]["target"] is None
	assert rows[p1]["error"]["epochs"]["diff"] is not None, "the error is still shown"
	for o in ("epochs",):
	    q = d["forecast_quality"][o]
	    assert q["n"] == 2 and q["target_missed"] == 1, (o, q)
	    apes = [rows[p]["error"][o]["ape"] for p in (p2, p3)]
	    assert abs(q["median_ape"] - statistics.median(apes)) <= 1e-9 * max(apes), (q, apes)
	    ins = [rows[p]["error"][o]["inside_p80"] for p in (p2, p3)]
	    assert q["n_p80"] == 2 and q["inside_p80"] == sum(ins) / 2, (q, ins)
	PYEOF
	expect_success resque report &&
	grep_out "missed \(lower bound\)" && grep_out "missed target \(left out\)" &&
	grep_out "^ *epochs +2 .* 1$" &&
	expect_success resque report --format csv -o r.csv &&
	head -1 r.csv | grep -q ",target_missed" && grep -q ",true" r.csv
'

test_expect_success 'audit report re-derives the same figures, and catches an altered count' '
	cd p && expect_success resque key export && cp "$OUT" ../me.pub &&
	expect_success resque audit report r.json --key ../me.pub &&
	expect_success resque report --format html -o r.html &&
	grep -q "target missed (lower bound" r.html && grep -q "pairs left out: target missed" r.html &&
	expect_success resque audit report r.html --key ../me.pub &&
	"$PY" -c "import json; d = json.load(open(\"r.json\")); d[\"forecast_quality\"][\"epochs\"][\"target_missed\"] = 0; json.dump(d, open(\"r2.json\", \"w\"))" &&
	expect_error 3 "forecast_quality.epochs.target_missed" resque audit report r2.json --key ../me.pub
'

test_done
