#!/bin/sh
# import codecarbon: a CodeCarbon 2.7 file whose optional per-domain figures
# are negative (its GPU counter can go below zero) is imported from
# energy_consumed and emissions, the bad figure dropped with a warning
# naming the file, line and column; required figures stay refused.
. "$(dirname "$0")/lib.sh"

# CodeCarbon 2.7.2's columns (EmissionsData, as its FileOutput writes them).
H=timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue
EXP=5b0fa12a-3dd7-45bb-9766-cc326314d9f1
# row RUN_ID CPU GPU RAM ENERGY EMISSIONS: one run of 3600 s
row() {
	printf '2024-11-05T14:02:11,train,%s,%s,3600.5,%s,1.0e-05,42.5,-12.3,11.8,%s,%s,%s,%s,Germany,DEU,hesse,,,Linux-5.15.0-x86_64-with-glibc2.35,3.10.12,2.7.2,16,AMD EPYC 7B13,1,1 x NVIDIA A100-SXM4-40GB,8.68,50.11,62.8,machine,N,1.0\n' \
		"$1" "$EXP" "$6" "$2" "$3" "$4" "$5"
}

test_expect_success 'setup: a repository and CodeCarbon 2.7.2 files' '
	expect_success resque init p &&
	{ echo "$H"; row 1c1e5a9e-0001-4f00-8000-000000000001 0.0425 -0.0113 0.0118 0.043 0.0161; } >p/gpu.csv &&
	{ echo "$H"; row 1c1e5a9e-0002-4f00-8000-000000000002 -0.5 -1.5e-3 -0.0001 0.043 0.0161; } >p/all.csv &&
	{ echo "$H"; row 1c1e5a9e-0003-4f00-8000-000000000003 0.0425 1e12 0.0118 0.043 0.0161; } >p/huge.csv &&
	{ echo "$H"; row 1c1e5a9e-0004-4f00-8000-000000000004 0.0425 0.01 0.0118 -0.043 0.0161; } >p/energy.csv &&
	{ echo "$H"; row 1c1e5a9e-0005-4f00-8000-000000000005 0.0425 0.01 0.0118 0.043 -0.0161; } >p/emissions.csv &&
	{ echo "$H"; row 1c1e5a9e-0006-4f00-8000-000000000006 0.0425 abc 0.0118 0.043 0.0161; } >p/text.csv
'

test_expect_success 'a negative gpu_energy: imported from energy_consumed and emissions, gpu dropped, warned' '
	cd p && expect_success resque import codecarbon gpu.csv --json &&
	grep -F "gpu.csv: line 2: gpu_energy -0.0113 is negative: dropped (the run is imported from energy_consumed and emissions)" "$ERR" &&
	test "$(grep -c "" "$ERR")" = 1 &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"energy_kwh\"] == 0.043 and d[0][\"carbon_kg\"] == 0.0161")" = True &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 3600.5")" = True &&
	test "$(json_get "$OUT" "sorted(d[0][\"body\"][\"domains_kwh\"].items())")" = "[('\''cpu'\'', 0.0425), ('\''ram'\'', 0.0118)]" &&
	test "$(json_get "$OUT" "\"gpu_kwh\" in d[0][\"body\"][\"source\"]")" = False
'

test_expect_success 'negative cpu, gpu and ram energies: each dropped with its own warning' '
	cd p && expect_success resque import codecarbon all.csv --json &&
	grep -F "all.csv: line 2: cpu_energy -0.5 is negative: dropped" "$ERR" &&
	grep -F "all.csv: line 2: gpu_energy -1.5e-3 is negative: dropped" "$ERR" &&
	grep -F "all.csv: line 2: ram_energy -0.0001 is negative: dropped" "$ERR" &&
	test "$(json_get "$OUT" "\"domains_kwh\" in d[0][\"body\"]")" = False &&
	test "$(json_get "$OUT" "d[0][\"energy_kwh\"] == 0.043")" = True
'

test_expect_success 'an implausible optional figure is dropped with the plausible-range message' '
	cd p && expect_success resque import codecarbon huge.csv --json &&
	grep -F "huge.csv: line 2: energy_kwh 1e+12 is outside the plausible range" "$ERR" &&
	grep -F "(gpu_energy): dropped" "$ERR" &&
	test "$(json_get "$OUT" "sorted(d[0][\"body\"][\"domains_kwh\"])")" = "['\''cpu'\'', '\''ram'\'']"
'

test_expect_success 'a negative energy_consumed or emissions is still refused; nothing written' '
	cd p &&
	unchanged_after 1 "energy.csv: line 2: '\''energy_consumed'\'' is not a number >= 0: '\''-0.043'\''" \
		resque import codecarbon energy.csv &&
	unchanged_after 1 "emissions.csv: line 2: '\''emissions'\'' is not a number >= 0: '\''-0.0161'\''" \
		resque import codecarbon emissions.csv
'

test_expect_success 'an optional figure that is not a number is refused; nothing written' '
	cd p &&
	unchanged_after 1 "text.csv: line 2: '\''gpu_energy'\'' is not a number >= 0: '\''abc'\''" \
		resque import codecarbon text.csv
'

test_expect_success 'a negative pue: dropped with a reason about the PUE; warnings carry the "warning:" prefix' '
	cd p && { echo "$H"; row 1c1e5a9e-0007-4f00-8000-000000000007 0.0425 0.01 0.0118 0.043 0.0161 | sed "s/,1.0\$/,-3/"; } >pue.csv &&
	expect_success resque import codecarbon pue.csv --json &&
	grep -F "warning: pue.csv: line 2: pue -3 is negative: dropped (no PUE is recorded for the run)" "$ERR" &&
	! grep -F "energy_consumed" "$ERR"
'

test_done
