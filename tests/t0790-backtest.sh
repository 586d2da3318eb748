#!/bin/sh
# resque plan --backtest (issue 14 item 4; docs/METHOD.md "Backtest"):
# the lineage's own history replayed in ledger order, each update
# forecast from the entries before it only, with the error and the
# coverage of both intervals per outcome, and a line per update.
. "$(dirname "$0")/lib.sh"

# plan ID: a dist plan from v1 at index R in shift family F, appended as
# `resque plan` would sign it (the forecast itself is not read back).
add_update() { # index family epochs [record flags...]
	r=$1 f=$2 e=$3 && shift 3 &&
	id=$(printf "{\"from\": \"%s\", \"from_name\": \"v1\", \"kind\": \"dist\", \"index\": %s, \"shift_family\": \"%s\", \"hardware\": \"gpu\"}" \
		"$(cat v1.id)" "$r" "$f" | rq-append .resque plan) &&
	resque record --plan "$id" --epochs "$e" --energy-kwh "$(echo "$e * 0.1" | bc -l)" "$@" >/dev/null &&
	echo "$id" >>plans.id
}

test_expect_success 'setup: v1 trained from scratch in 40 epochs' '
	expect_success resque init p && cd p && printf w1 >w1.bin &&
	printf "{\"epochs\": 40, \"energy_kwh\": 4, \"duration_s\": 4000, \"hardware\": \"gpu\"}" >cost.json &&
	expect_success resque commit --weights w1.bin --name v1 --cost cost.json &&
	expect_success resque show v1 --json && json_get "$OUT" "d[\"id\"]" >v1.id
'

test_expect_success 'no past update: an empty backtest, said plainly' '
	cd p && expect_success resque plan --backtest --from v1 &&
	grep_out "0 past update\(s\) replayed" &&
	expect_success resque plan --backtest --lineage v1 --json &&
	test "$(json_get "$OUT" "d[\"n\"]")" = 0
'

test_expect_success 'setup: 15 updates in 3 shift families, two capped by a budget' '
	cd p &&
	add_update 0.05 noise 6 && add_update 0.10 blur 11 && add_update 0.20 noise 13 &&
	add_update 0.15 rotation 22 && add_update 0.30 noise 19 && add_update 0.25 blur 20 &&
	add_update 0.12 rotation 17 && add_update 0.40 noise 30 --target-missed &&
	add_update 0.35 blur 27 && add_update 0.08 noise 9 && add_update 0.22 rotation 31 &&
	add_update 0.18 blur 16 && add_update 0.28 rotation 30 --target-missed &&
	add_update 0.14 noise 12 && add_update 0.33 blur 25 &&
	test "$(wc -l <plans.id)" = 15
'

test_expect_success 'each update is forecast from the ones before it only' '
	cd p && expect_success resque plan --backtest --from v1 --json && cp "$OUT" bt.json &&
	"$PY" - bt.json plans.id <<-\PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	ids = open(sys.argv[2]).read().split()
	u = d["updates"]
	assert d["n"] == 15 and [x["plan"] for x in u] == ids, [x["plan"] for x in u]
	# the first update has no history: the cold-start prior; then one more each time
	assert u[0]["calibration"]["basis"] == "prior" and u[0]["calibration"]["n"] == 0, u[0]
	for k, x in enumerate(u[1:], 1):
	    assert x["calibration"]["n"] == k, (k, x["calibration"])
	# the family of the update: its own earlier points
	fam = [x["shift_family"] for x in u]
	for k, x in enumerate(u):
	    if k:
	        assert x["calibration"]["n_family"] == fam[:k].count(fam[k]), (k, x)
	# censored points are counted as such once they are history
	assert u[8]["calibration"]["n_censored"] == 1 and u[14]["calibration"]["n_censored"] == 2, u[14]
	assert u[7]["target_missed"] and u[12]["target_missed"]
	PYEOF
'

test_expect_success 'the summary is the median APE and the coverage of the updates listed' '
	cd p && "$PY" - bt.json <<-\PYEOF
	import json, statistics, sys
	d = json.load(open(sys.argv[1]))
	for o in ("epochs", "energy_kwh"):
	    q = d["outcomes"][o]
	    kept = [x for x in d["updates"] if x["forecast"][o] and x["actual"][o] is not None and not x["target_missed"]]
	    assert q["n"] == len(kept) and q["target_missed"] == 2, (o, q, len(kept))
	    ape = [100 * abs(x["actual"][o] - x["forecast"][o]["p50"]) / x["actual"][o] for x in kept]
	    assert abs(q["median_ape"] - statistics.median(ape)) < 1e-9, (q, statistics.median(ape))
	    in80 = sum(x["forecast"][o]["p10"] <= x["actual"][o] <= x["forecast"][o]["p90"] for x in kept)
	    in95 = sum(x["forecast"][o]["p2_5"] <= x["actual"][o] <= x["forecast"][o]["p97_5"] for x in kept)
	    assert abs(q["inside_p80"] - in80 / len(kept)) < 1e-12 and abs(q["inside_p95"] - in95 / len(kept)) < 1e-12, q
	PYEOF
'

test_expect_success 'later entries do not change the forecasts of earlier updates' '
	cd p && add_update 0.21 noise 15 &&
	expect_success resque plan --backtest --from v1 --json && cp "$OUT" bt2.json &&
	"$PY" - bt.json bt2.json <<-\PYEOF
	import json, sys
	a = json.load(open(sys.argv[1]))["updates"]
	b = json.load(open(sys.argv[2]))["updates"]
	assert len(b) == len(a) + 1
	assert [x["forecast"] for x in a] == [x["forecast"] for x in b[:len(a)]]
	PYEOF
'

test_expect_success 'the text output: the table per outcome and a line per update' '
	cd p && expect_success resque plan --backtest --from v1 &&
	grep_out "16 past update\(s\) replayed in ledger order" &&
	grep_out "^  epochs +14 " &&
	grep_out "median APE" &&
	grep_out ">=30 .*missed" &&
	test "$(grep -c "^  [0-9a-f]\{12\} " "$OUT")" = 16
'

test_expect_success 'an update is forecast from the actuals recorded before its plan, not after' '
	expect_success resque init q && cd q && printf w1 >w1.bin &&
	cp ../p/cost.json . && expect_success resque commit --weights w1.bin --name v1 --cost cost.json &&
	expect_success resque show v1 --json && json_get "$OUT" "d[\"id\"]" >v1.id &&
	for r in 0.1 0.2 0.3; do
		printf "{\"from\": \"%s\", \"kind\": \"dist\", \"index\": %s, \"shift_family\": \"noise\", \"hardware\": \"gpu\"}" \
			"$(cat v1.id)" "$r" | rq-append .resque plan >>plans.id || return 1
	done &&
	for id in $(cat plans.id); do
		resque record --plan "$id" --epochs 12 --energy-kwh 1.2 >/dev/null 2>&1 || return 1
	done &&
	expect_success resque plan --backtest --from v1 --json &&
	test "$(json_get "$OUT" "\",\".join(u[\"calibration\"][\"basis\"] for u in d[\"updates\"])")" = "prior,prior,prior"
'

test_expect_success 'an absurd index in the ledger does not poison the lineage, and no NaN is printed' '
	cd p &&
	id=$(printf "{\"from\": \"%s\", \"kind\": \"dist\", \"index\": 1e200, \"shift_family\": \"noise\", \"hardware\": \"gpu\"}" \
		"$(cat v1.id)" | rq-append .resque plan) &&
	resque record --plan "$id" --epochs 20 --energy-kwh 2 >/dev/null 2>&1 &&
	add_update 0.19 noise 14 &&
	expect_success resque plan --backtest --from v1 --json && cp "$OUT" bt3.json &&
	! grep -i -E "nan|inf" bt3.json &&
	"$PY" - bt3.json <<-\PYEOF
	import json, sys
	u = json.load(open(sys.argv[1]))["updates"]
	last = u[-1]
	# the absurd point is left out of the fit: 16 earlier updates, not 17
	assert last["calibration"]["n"] == 16 and last["forecast"]["epochs"], last
	PYEOF
	expect_success resque plan --backtest --from v1 &&
	! grep -i "nan" "$OUT"
'

test_expect_success 'bad input: usage errors name the problem, the ledger is unchanged' '
	cd p && expect_success resque log --json && cp "$OUT" before.json &&
	expect_failure 2 resque plan --backtest &&
	grep_err "one --from REF or --lineage REF" &&
	expect_failure 2 resque plan --backtest --from v1 --lineage v1 &&
	grep_err "one --from REF or --lineage REF" &&
	expect_failure 2 resque plan --backtest --from v1 --embeddings x.npy --labels y.npy &&
	grep_err "takes no new data" &&
	expect_failure 2 resque plan --backtest --from v1 --shift-family noise &&
	grep_err "replays each update with what it recorded" &&
	expect_failure 2 resque plan --lineage v1 --embeddings x.npy --labels y.npy &&
	grep_err "--lineage goes with --backtest" &&
	expect_failure 1 resque plan --backtest --from nosuch &&
	grep_err "nosuch" &&
	expect_success resque log --json && cmp before.json "$OUT"
'

test_done
