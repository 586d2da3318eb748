#!/bin/sh
# import codecarbon: rows sharing a run_id whose duration falls back are
# segments of one run (a new tracker: every figure summed), unless the
# energy grew faster than a new count could (more than 10 times the mean
# power before: the counters were kept, as CodeCarbon's start_task keeps
# them), when a figure that kept growing is a running total (last value)
# and one that fell back is summed; a warning names the line. Sums are
# checked against the plausible ranges again.
. "$(dirname "$0")/lib.sh"

# CodeCarbon 2.3.5's columns (no experiment_id yet).
H=timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue
# row TIMESTAMP RUN_ID DURATION ENERGY EMISSIONS CPU RAM
row() {
	printf '%s,codecarbon,%s,%s,%s,3e-06,42.5,0.0,5.9,%s,0,%s,%s,Germany,DEU,,,,Linux-5.15,3.9.16,2.3.5,4,Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz,,,8.68,50.11,15.6,machine,N,1.0\n' \
		"$1" "$2" "$3" "$5" "$6" "$7" "$4"
}
R=0c3f1b2e-59ab-4e2d-9f3c-8a1d2e3f4a5b

test_expect_success 'setup: a repository and three files' '
	expect_success resque init p &&
	{ echo "$H"
	  row 2023-10-02T15:11:40 $R 120.5 0.0004 0.00015 0.00035 0.00005
	  row 2023-10-02T15:13:02 $R 0.66 0.0009 0.00033 0.0008 0.0001; } >p/restart.csv &&
	{ echo "$H"
	  row 2023-10-03T09:00:00 run-b 100 0.0040 0.0015 0.0035 0.0005
	  row 2023-10-03T09:01:40 run-b 50 0.0020 0.0007 0.0017 0.0003
	  row 2023-10-03T09:02:30 run-b 60 0.0025 0.0009 0.0021 0.0004
	  row 2023-10-03T09:03:30 run-b 30 0.0012 0.0004 0.0010 0.0002; } >p/both.csv &&
	{ echo "$H"
	  row 2023-10-04T09:00:00 run-c 60 0.0010 0.0004 0.0009 0.0001
	  row 2023-10-04T09:01:00 run-c 120 0.0020 0.0008 0.0018 0.0002; } >p/snapshots.csv
'

test_expect_success 'duration restarts, energy grows faster than a new count could: duration summed, energy the running total' '
	cd p && expect_success resque import codecarbon restart.csv --json &&
	grep -F "restart.csv: line 3: run '\''$R'\'' restarted (duration 0.66 s after 120.5 s at line 2): segments summed: duration; running totals (kept growing): emissions, energy_consumed" "$ERR" &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "abs(d[0][\"duration_s\"] - 121.16) < 1e-9")" = True &&
	test "$(json_get "$OUT" "d[0][\"energy_kwh\"] == 0.0009 and d[0][\"carbon_kg\"] == 0.00033")" = True &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"domains_kwh\"] == {\"cpu\": 0.0008, \"ram\": 0.0001, \"gpu\": 0.0}")" = True &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"segments\"]")" = 2
'

test_expect_success 'duration and energy both restart (three times): every figure summed over the segments' '
	cd p && expect_success resque import codecarbon both.csv --json &&
	test "$(grep -c "run '\''run-b'\'' restarted" "$ERR")" = 2 &&
	grep -F "both.csv: line 3: run '\''run-b'\'' restarted (duration 50 s after 100 s at line 2): segments summed: duration, emissions, energy_consumed" "$ERR" &&
	grep -F "both.csv: line 5: run '\''run-b'\'' restarted (duration 30 s after 60 s at line 4)" "$ERR" &&
	"$PY" - "$OUT" <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	assert len(d) == 1, d
	a = d[0]
	# segments: (100 s, 0.0040), (50 -> 60 s, 0.0020 -> 0.0025), (30 s, 0.0012)
	assert abs(a["duration_s"] - 190) < 1e-9, a["duration_s"]
	assert abs(a["energy_kwh"] - 0.0077) < 1e-12, a["energy_kwh"]
	assert abs(a["carbon_kg"] - 0.0028) < 1e-12, a["carbon_kg"]
	assert abs(a["body"]["domains_kwh"]["cpu"] - 0.0066) < 1e-12
	assert a["body"]["source"]["segments"] == 3
	PY
'

test_expect_success 'snapshots that only grow: the last row, no warning, no segments' '
	cd p && expect_success resque import codecarbon snapshots.csv --json &&
	test ! -s "$ERR" &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 120 and d[0][\"energy_kwh\"] == 0.002")" = True &&
	test "$(json_get "$OUT" "\"segments\" in d[0][\"body\"][\"source\"]")" = False
'

test_expect_success 'a new tracker whose energy is larger than the segment before: still a new count, summed' '
	cd p && { echo "$H"
	  row 2023-10-05T09:00:00 run-d 100 0.0010 0.0004 0.0009 0.0001
	  row 2023-10-05T09:02:00 run-d 80 0.0012 0.0005 0.0011 0.0001; } >larger.csv &&
	expect_success resque import codecarbon larger.csv --json &&
	grep -F "larger.csv: line 3: run '\''run-d'\'' restarted (duration 80 s after 100 s at line 2): segments summed: duration, emissions, energy_consumed" "$ERR" &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 180")" = True &&
	test "$(json_get "$OUT" "abs(d[0][\"energy_kwh\"] - 0.0022) < 1e-12 and abs(d[0][\"carbon_kg\"] - 0.0009) < 1e-12")" = True
'

test_expect_success 'segments whose sum leaves the plausible range: refused like one row; nothing written' '
	cd p && { echo "$H"
	  row 2023-10-06T09:00:00 run-e 100 600000000 0.0004 0.0009 0.0001
	  row 2023-10-06T09:02:00 run-e 80 600000000 0.0005 0.0011 0.0001; } >huge.csv &&
	unchanged_after 1 "huge.csv: run '\''run-e'\'' (2 segments summed, to line 3)" \
		resque import codecarbon huge.csv &&
	grep -F "energy" "$ERR"
'

test_done
