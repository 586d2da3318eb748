#!/bin/sh
# resque import codecarbon / nvidia-smi: actual entries recorded from
# other tools' files, checked against Python's csv and numpy; duplicates,
# plans and bad files.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

TRACES="$RQ_ROOT/tests/data/power-traces" # vendored, see docs/DATA.md

# Reference integral: tests/data/nvsmi_ref.py (as t0700).
REF="$RQ_ROOT/tests/data/nvsmi_ref.py"

cat >v1.csv <<'CSV'
timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud
2022-06-01T10:00:00,codecarbon,11111111-3dd7-45bb-9766-cc326314d9f1,120.5,0.0123,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0101,France,FRA,île-de-france,,,Linux-5.15,3.9.7,8,Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz,1,NVIDIA GeForce RTX 3090,2.35,48.85,31.4,machine,N
CSV
cat >v2.csv <<'CSV'
timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue
2024-01-01T10:00:00,codecarbon,22222222-3dd7-45bb-9766-cc326314d9f1,x,220.5,0.0223,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0201,France,FRA,,,,Linux-6.1,3.11.2,2.3.4,8,"Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz",1,1 x NVIDIA GeForce RTX 3090,2.35,48.85,31.4,machine,N,1.0
CSV
cat >v3.csv <<'CSV'
timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue,wue,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb
2025-05-01T10:00:00,codecarbon,33333333-3dd7-45bb-9766-cc326314d9f1,x,320.5,0.0323,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0301,0,France,FRA,,,,Linux-6.8,3.12.3,3.0.1,8,"Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz",1,"1 x NVIDIA GeForce RTX 3090",2.35,48.85,31.4,machine,N,1.0,0,55.2,80.1,40.0,12.5
CSV

# check_cc JSON CSV: every recorded actual equals the last row of its run.
cat >check_cc.py <<'PY'
import csv, json, sys
got = json.load(open(sys.argv[1]))
rows = {}
for r in csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8-sig")):
    rows[r["run_id"]] = r
assert len(got) == len(rows), (len(got), list(rows))
for g in got:
    r = rows[g["body"]["source"]["run_id"]]
    assert g["type"] == "actual" and g["method"] == "imported" and g["meter"] == "codecarbon", g
    assert g["energy_kwh"] == float(r["energy_consumed"]), g
    assert g["carbon_kg"] == float(r["emissions"]) and g["duration_s"] == float(r["duration"]), g
    assert g["exit_status"] is None and g["status"] == "succeeded"
    assert g["body"]["source"]["fingerprint"].startswith("b2:")
    if r.get("country_iso_code"):
        assert g["body"]["region"] == {"FRA": "FR"}.get(r["country_iso_code"], r["country_iso_code"])
PY

test_expect_success 'setup: a repository' '
	expect_success resque init p && cp v1.csv v2.csv v3.csv check_cc.py p/
'

for v in v1 v2 v3; do
	test_expect_success "import codecarbon $v: an actual with CodeCarbon's figures" '
		cd p && expect_success resque import codecarbon $v.csv --json &&
		"$PY" check_cc.py "$OUT" $v.csv &&
		id=$(json_get "$OUT" "d[0][\"id\"]") &&
		expect_success resque show "$id" --json &&
		test "$(json_get "$OUT" "d[\"method\"]")" = imported &&
		test "$(json_get "$OUT" "d[\"meter\"]")" = codecarbon
	'
done

test_expect_success 'codecarbon: a province name stays under source, not as the grid region' '
	cd p && expect_success resque log --json &&
	id=$(resque log --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else d[\"entries\"]; print([e[\"id\"] for e in d if e[\"type\"]==\"actual\"][-1])") &&
	expect_success resque show "$id" --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"source\"][\"region\"]")" = "île-de-france" &&
	test "$(json_get "$OUT" "d[\"body\"][\"region\"]")" = FR
'

test_expect_success 'codecarbon: BOM, quoted fields, several runs; --run-id; a run is imported once' '
	cd p && "$PY" - <<-PY &&
	import csv
	with open("multi.csv", "w", newline="", encoding="utf-8-sig") as f:
	    w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
	    w.writerow(["timestamp", "project_name", "run_id", "duration", "emissions", "energy_consumed", "cpu_model"])
	    w.writerow(["2024-01-01T10:00:00", "p, with comma", "run-a", "10", "0.001", "0.01", "A \"quoted\" CPU"])
	    w.writerow(["2024-01-01T11:00:00", "p", "run-b", "20", "0.002", "0.02", "B"])
	    w.writerow(["2024-01-01T12:00:00", "p", "run-a", "30", "0.003", "0.03", "A \"quoted\" CPU"])
	    w.writerow(["2024-01-01T13:00:00", "p", "run-c", "40", "0.004", "0.04", "C"])
	PY
	repo_state >before &&
	expect_error 1 "multi.csv holds 3 runs: choose one with --run-id" resque import codecarbon multi.csv --epochs 3 &&
	repo_state >after && compare before after &&
	expect_success resque import codecarbon multi.csv --run-id run-b --epochs 5 --name cc-b --json &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"epochs\"]")" = 5 &&
	test "$(json_get "$OUT" "d[0][\"name\"]")" = cc-b &&
	expect_success resque import codecarbon multi.csv --json &&
	grep -F "multi.csv: run '\''run-b'\'' was imported already as" "$ERR" &&
	test "$(json_get "$OUT" "len(d)")" = 2 &&
	test "$(json_get "$OUT" "sorted(x[\"body\"][\"source\"][\"run_id\"] for x in d)")" = "['\''run-a'\'', '\''run-c'\'']" &&
	test "$(json_get "$OUT" "[x[\"duration_s\"] for x in d if x[\"body\"][\"source\"][\"run_id\"] == \"run-a\"][0] == 30")" = True &&
	repo_state >before &&
	expect_success resque import codecarbon multi.csv &&
	grep -F "multi.csv: run '\''run-a'\'' already imported as" "$OUT" &&
	test "$(grep -c "already imported as" "$OUT")" = 3 &&
	repo_state >after && compare before after
'

for trace in rtx3090-resnet50 rtx3070-vgg16; do
	test_expect_success "import nvidia-smi $trace: energy is numpy's trapezoid; carbon from the region" '
		cd p && f="$TRACES/$trace-gpu-power.csv" &&
		set -- $("$PY" "$REF" "$f") && want=$2 && dur=$4 &&
		expect_success resque import nvidia-smi "$f" --region DE --pue 1.5 --json &&
		"$PY" - "$OUT" "$want" "$dur" <<-\PY
		import json, sys
		d = json.load(open(sys.argv[1]))[0]
		want, dur = float(sys.argv[2]), float(sys.argv[3])
		assert abs(d["energy_kwh"] - want) <= 1e-9 * want, (d["energy_kwh"], want)
		assert abs(d["duration_s"] - dur) <= 1e-3
		assert d["method"] == "imported" and d["meter"] == "nvidia-smi"
		b = d["body"]
		assert b["region"] == "DE" and b["pue"] == 1.5
		assert abs(d["carbon_kg"] - d["energy_kwh"] * 1.5 * b["intensity_g_per_kwh"] / 1000) <= 1e-15
		assert b["source"]["format"] == "nvidia-smi" and b["source"]["samples"] > 0
		PY
	'
done

test_expect_success 'nvidia-smi: the line cut short is a warning; the same file is imported once' '
	cd p && cp "$TRACES/rtx3090-resnet50-gpu-power.csv" again.csv &&
	repo_state >before &&
	expect_success resque import nvidia-smi again.csv --region FR &&
	grep -F "again.csv: already imported as" "$OUT" &&
	grep -F "again.csv: line $(($(wc -l <again.csv) + 1)): incomplete last line skipped (the log was cut short)" "$ERR" &&
	repo_state >after && compare before after
'

test_expect_success 'import --plan links the actual and says whether it fell inside the 80 % interval' '
	cd p && head -200 "$TRACES/rtx3070-vgg16-gpu-power.csv" >part.csv &&
	set -- $("$PY" "$REF" part.csv) && kwh=$2 &&
	lo=$("$PY" -c "print($kwh * 0.5)") && hi=$("$PY" -c "print($kwh * 2)") &&
	echo "{\"from\": \"0000\", \"kind\": \"dist\", \"index\": 0.3, \"forecast\": {\"energy_kwh\": {\"mean\": $kwh, \"p10\": $lo, \"p90\": $hi, \"p2_5\": 0, \"p97_5\": 1}}}" >plan.json &&
	plan=$(rq-append .resque plan <plan.json) &&
	expect_success resque import nvidia-smi part.csv --plan "$plan" --region FR --json &&
	test "$(json_get "$OUT" "d[0][\"plan\"]")" = "$plan" &&
	test "$(json_get "$OUT" "d[0][\"inside_p80\"]")" = True
'

test_expect_success 'the ledger verifies after the imports' '
	cd p && expect_success resque verify
'

test_expect_success 'bad files and references are refused; the repository is unchanged' '
	cd p && repo_state >before &&
	expect_error 1 "missing.csv: No such file" resque import codecarbon missing.csv &&
	expect_error 1 "missing.csv: No such file" resque import nvidia-smi missing.csv &&
	expect_error 1 "--plan deadbeef" resque import nvidia-smi part.csv --plan deadbeef --region FR &&
	expect_error 1 "unknown grid region" resque import nvidia-smi part.csv --region XX-NOWHERE &&
	printf "run_id,duration,emissions\nx,1,2\n" >noenergy.csv &&
	expect_error 1 "noenergy.csv: no '\''energy_consumed'\'' column" resque import codecarbon noenergy.csv &&
	printf "timestamp, name\n" >nopower.csv &&
	expect_error 1 "nopower.csv: no '\''power.draw'\'' column" resque import nvidia-smi nopower.csv &&
	expect_error 1 "no run '\''zz'\''" resque import codecarbon multi.csv --run-id zz &&
	expect_error 2 "--pue must be a number >= 1" resque import nvidia-smi part.csv --pue 0.2 &&
	expect_error 2 "missing FILE" resque import codecarbon &&
	expect_error 2 "'\''excel'\'' is not a subcommand" resque import excel x.csv &&
	repo_state >after && compare before after
'

test_done
