#!/bin/sh
# resque commit --actual: a version's cost taken from a recorded actual
# (resque run or resque import), with its source.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

test_expect_success 'setup: a repository, weights, a measured run with epochs' '
	expect_success resque init p && cd p &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w2.safetensors 2 &&
	expect_success resque run --meter estimate --region FR --hardware cpu-box --json -- \
		sh -c "resque mark epoch; resque mark epoch; resque mark epoch" &&
	cp "$OUT" run.json &&
	test "$(json_get run.json "d[\"epochs\"]")" = 3
'

test_expect_success 'commit --actual takes epochs, energy, duration, carbon, method, hardware, region' '
	cd p && id=$(json_get run.json "d[\"id\"]") &&
	expect_success resque commit --weights w1.safetensors --name v1 --actual "$(echo $id | cut -c1-8)" --json &&
	"$PY" - "$OUT" run.json <<-\PY
	import json, sys
	v, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
	c, b = v["body"]["cost"], a["body"]
	for k in ["epochs", "energy_kwh", "duration_s", "carbon_kg", "method", "hardware", "region", "pue", "intensity_g_per_kwh"]:
	    assert c[k] == b[k], (k, c.get(k), b.get(k))
	assert c["source"] == "actual:" + a["id"], c
	assert c["method"] == "estimated" and c["hardware"] == "cpu-box"
	PY
'

test_expect_success 'resque show of the version reports the cost from the actual' '
	cd p && expect_success resque show v1 --json &&
	test "$(json_get "$OUT" "d[\"cost\"][\"epochs\"]")" = 3.0 -o "$(json_get "$OUT" "d[\"cost\"][\"epochs\"]")" = 3 &&
	test "$(json_get "$OUT" "d[\"cost\"][\"method\"]")" = estimated
'

test_expect_success 'an imported actual without epochs: a warning, the rest of the cost' '
	cd p && printf "run_id,duration,emissions,energy_consumed\nr1,10,0.5,2.5\n" >e.csv &&
	expect_success resque import codecarbon e.csv --json &&
	id=$(json_get "$OUT" "d[0][\"id\"]") &&
	expect_success resque commit --weights w2.safetensors --name v2 --parent v1 --actual "$id" --json &&
	grep -F "has no epochs" "$ERR" &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"energy_kwh\"] == 2.5")" = True &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"carbon_kg\"] == 0.5")" = True &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"method\"]")" = imported
'

test_expect_success 'commit --actual: refused with --cost, an unknown actual, a non-actual' '
	cd p && repo_state >before && echo "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1}" >c.json &&
	expect_error 2 "give either --cost or --actual, not both" \
		resque commit --weights w2.safetensors --name v3 --cost c.json --actual deadbeef &&
	expect_error 1 "--actual deadbeef" resque commit --weights w2.safetensors --name v3 --actual deadbeef &&
	expect_error 1 "--actual v1" resque commit --weights w2.safetensors --name v3 --actual v1 &&
	repo_state >after && compare before after
'

test_expect_success 'a failed run used as a cost is flagged' '
	cd p && expect_failure 4 resque run --meter estimate --json -- sh -c "resque mark epoch; exit 4" &&
	id=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque commit --weights w2.safetensors --name v3 --actual "$id" &&
	grep -F "is the record of a failed run (exit status 4)" "$ERR"
'

test_done
