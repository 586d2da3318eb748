#!/bin/sh
# import codecarbon: CodeCarbon writes the country as ISO 3166 alpha-3
# ("DEU"); the actual's region is resque's grid region, alpha-2 ("DE"),
# from resque's own table, while source keeps the code as written.
. "$(dirname "$0")/lib.sh"

H=timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue,wue,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb
# row RUN_ID COUNTRY_NAME ISO
row() {
	printf '2025-06-01T10:00:00,codecarbon,%s,x,120.5,0.0123,0.0001,42.5,0.0,11.8,0.0014,0.0,0.0004,0.0101,0,%s,%s,,,,Linux-6.8,3.12.3,3.2.1,8,AMD Ryzen 7 5800X,,,8.68,50.11,31.4,machine,N,1.0,0,55.2,0,40.0,12.5\n' "$1" "$2" "$3"
}

test_expect_success 'setup: a repository; runs in Germany, the US, Switzerland (alpha-3 and alpha-2) and nowhere' '
	expect_success resque init p &&
	{ echo "$H"
	  row run-de Germany DEU
	  row run-us "United States" usa
	  row run-ch Switzerland CH
	  row run-none "" ""; } >p/c.csv &&
	{ echo "$H"; row run-zz Nowhere ZZZ; } >p/zz.csv
'

test_expect_success 'alpha-3 codes become the table'\''s alpha-2 region; source keeps what the file wrote' '
	cd p && expect_success resque import codecarbon c.csv --json &&
	test "$(json_get "$OUT" "[x[\"body\"].get(\"region\", \"-\") for x in d]")" = "['\''DE'\'', '\''US'\'', '\''CH'\'', '\''-'\'']" &&
	test "$(json_get "$OUT" "[x[\"body\"][\"source\"].get(\"country_iso_code\", \"-\") for x in d]")" = "['\''DEU'\'', '\''usa'\'', '\''CH'\'', '\''-'\'']" &&
	test "$(json_get "$OUT" "d[0][\"carbon_kg\"] == 0.0123")" = True
'

test_expect_success 'show and report see the alpha-2 region' '
	cd p && expect_success resque show run-de --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"region\"]")" = DE
'

test_expect_success 'a code resque does not know is refused; nothing written' '
	cd p &&
	unchanged_after 1 "zz.csv: line 2: country_iso_code '\''ZZZ'\'' is not a known country code" \
		resque import codecarbon zz.csv
'

test_done
