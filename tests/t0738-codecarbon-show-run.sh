#!/bin/sh
# resque show RUN_ID: the run id of a run imported from CodeCarbon is a
# reference (whole, or a prefix only one run has), tried after versions,
# entry names and entry ids; a prefix of several runs is a clear error.
. "$(dirname "$0")/lib.sh"

U=5b0fa12a-3dd7-45bb-9766-cc326314d9f1

test_expect_success 'setup: a repository with five imported CodeCarbon runs' '
	expect_success resque init p && cd p &&
	{ echo "run_id,duration,emissions,energy_consumed"
	  echo "$U,120.5,0.0123,0.0101"
	  echo "run-alpha-1,10,0.001,0.01"
	  echo "run-alpha-2,20,0.002,0.02"
	  echo "run-b,30,0.003,0.03"
	  echo "run-bb,40,0.004,0.04"
	  echo "None,50,0.005,0.05"; } >e.csv &&
	expect_success resque import codecarbon e.csv --json &&
	test "$(json_get "$OUT" "len(d)")" = 6 &&
	json_get "$OUT" "d[0][\"id\"]" >uuid.id &&
	json_get "$OUT" "d[1][\"id\"]" >alpha1.id &&
	json_get "$OUT" "d[3][\"id\"]" >b.id
'

test_expect_success 'the whole run id and a unique prefix of it show the actual' '
	cd p && expect_success resque show "$U" --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$(cat uuid.id)" &&
	test "$(json_get "$OUT" "d[\"body\"][\"source\"][\"run_id\"]")" = "$U" &&
	expect_success resque show 5b0fa12a-3dd7 --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$(cat uuid.id)" &&
	expect_success resque show run-alpha-1 &&
	grep -q "^entry   $(cat alpha1.id)" "$OUT"
'

test_expect_success 'a whole run id wins over a longer one it is a prefix of' '
	cd p && expect_success resque show run-b --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$(cat b.id)"
'

test_expect_success 'a prefix of several runs is refused, naming them' '
	cd p &&
	expect_error 1 "'\''run-alpha'\'' matches 2 imported CodeCarbon runs: run-alpha-1 (" resque show run-alpha &&
	grep -F "run-alpha-2 (" "$ERR" &&
	grep -F "give the whole run id or an entry id" "$ERR"
'

test_expect_success 'None is no run id; an unknown reference keeps the usual message' '
	cd p &&
	expect_error 1 "no entry named or identified by '\''None'\''" resque show None &&
	expect_error 1 "no entry named or identified by '\''run-zzz'\''" resque show run-zzz &&
	expect_error 1 "no entry named or identified by '\''run'\''" resque show run
'

test_expect_success 'names and entry ids come first: an entry id prefix still shows its entry' '
	cd p && id=$(cat b.id) &&
	expect_success resque show "$(echo "$id" | cut -c1-12)" --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$id"
'

test_expect_success 'a reference that starts both an entry id and a run id is refused, naming both' '
	cd p && P=$(cut -c1-8 b.id) &&
	{ echo "run_id,duration,emissions,energy_consumed"; echo "$P-run,60,0.006,0.06"; } >clash.csv &&
	expect_success resque import codecarbon clash.csv --json && run=$(json_get "$OUT" "d[0][\"id\"]") &&
	expect_error 1 "'\''$P'\'' is both the start of entry $P" resque show "$P" &&
	grep -F "and of the run id of CodeCarbon run $P-run (entry $(echo "$run" | cut -c1-12)): give more of the entry id, or the whole run id" "$ERR" &&
	expect_success resque show "$(cut -c1-40 b.id)" --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$(cat b.id)" &&
	expect_success resque show "$P-run" --json &&
	test "$(json_get "$OUT" "d[\"id\"]")" = "$run"
'

test_done
