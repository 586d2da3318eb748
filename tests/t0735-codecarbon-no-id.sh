#!/bin/sh
# import codecarbon: a run_id written as "None", "nan" or left empty is no
# id (CodeCarbon 2.8 writes str(None) when its API gave no run id): each
# such row is a run of its own, never merged with the others.
. "$(dirname "$0")/lib.sh"

# CodeCarbon 2.8.3's columns.
H=timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue
# row TIMESTAMP RUN_ID DURATION ENERGY EMISSIONS
row() {
	printf '%s,bench,%s,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,%s,%s,1e-06,15.0,0.0,5.9,0.001,0.0,0.0004,%s,France,FRA,,,,Linux-6.1,3.11.4,2.8.3,8,Intel(R) Xeon(R) CPU @ 2.20GHz,,,2.35,48.85,15.6,machine,N,1.0\n' \
		"$1" "$2" "$3" "$5" "$4"
}

test_expect_success 'setup: a repository; three runs with run_id None, nan and empty' '
	expect_success resque init p &&
	{ echo "$H"
	  row 2025-01-10T09:00:00 None 300.0 0.0014 0.00008
	  row 2025-01-10T10:00:00 None 120.0 0.0006 0.00003
	  row 2025-01-10T11:00:00 None 600.0 0.0029 0.00016; } >p/none.csv &&
	{ echo "$H"
	  row 2025-01-11T09:00:00 nan 10.0 0.0001 0.00001
	  row 2025-01-11T10:00:00 "" 20.0 0.0002 0.00002
	  row 2025-01-11T11:00:00 NaN 30.0 0.0003 0.00003
	  row 2025-01-11T12:00:00 run-x 40.0 0.0004 0.00004
	  row 2025-01-11T12:05:00 run-x 45.0 0.0005 0.00005; } >p/mixed.csv
'

test_expect_success 'three runs of run_id None: three actuals, none merged or dropped' '
	cd p && expect_success resque import codecarbon none.csv --json &&
	test "$(json_get "$OUT" "len(d)")" = 3 &&
	test "$(json_get "$OUT" "[x[\"duration_s\"] for x in d] == [300, 120, 600]")" = True &&
	test "$(json_get "$OUT" "[x[\"energy_kwh\"] for x in d] == [0.0014, 0.0006, 0.0029]")" = True &&
	test "$(json_get "$OUT" "any(\"run_id\" in x[\"body\"][\"source\"] for x in d)")" = False &&
	! grep -i "restart" "$ERR"
'

test_expect_success 'nan, NaN and an empty id are no id; a real id still gathers its snapshots' '
	cd p && expect_success resque import codecarbon mixed.csv --json &&
	test "$(json_get "$OUT" "len(d)")" = 4 &&
	test "$(json_get "$OUT" "[x[\"body\"][\"source\"].get(\"run_id\", \"-\") for x in d]")" = "['\''-'\'', '\''-'\'', '\''-'\'', '\''run-x'\'']" &&
	test "$(json_get "$OUT" "[x[\"duration_s\"] for x in d] == [10, 20, 30, 45]")" = True
'

test_expect_success '--run-id None names no run: refused, listing the runs; nothing written' '
	cd p &&
	unchanged_after 1 "none.csv: no run '\''None'\'' (runs: without an id, at lines 2, 3, 4 (choose one with --line N))" \
		resque import codecarbon none.csv --run-id None &&
	unchanged_after 1 "mixed.csv: no run '\''nan'\'' (runs: run-x; without an id, at lines 2, 3, 4 (choose one with --line N))" \
		resque import codecarbon mixed.csv --run-id nan
'

test_expect_success 'a file of runs without ids and several runs needs --run-id for --epochs; nothing written' '
	cd p &&
	unchanged_after 1 "none.csv holds 3 runs: choose one with --run-id R (or --line N for a run without an id) to give it --plan, --name, --epochs, --train-size or --target-* (--line 2, --line 3, --line 4)" \
		resque import codecarbon none.csv --epochs 3
'

test_expect_success 'a run without an id is chosen with --line N (its row), and given --epochs' '
	expect_success resque init q && cp p/none.csv q/ && cd q &&
	unchanged_after 1 "none.csv: no run whose last row is at line 7 (runs: without an id, at lines 2, 3, 4" \
		resque import codecarbon none.csv --line 7 &&
	expect_success resque import codecarbon none.csv --line 3 --epochs 2 --json &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 120")" = True &&
	test "$(json_get "$OUT" "d[0][\"epochs\"]")" = 2
'

test_done
