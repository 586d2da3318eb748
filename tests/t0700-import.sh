#!/bin/sh
# Importers (core): nvidia-smi logs integrated and checked against an
# independent integral by numpy; CodeCarbon files of several versions.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

TRACES="$RQ_ROOT/tests/data/power-traces" # vendored, see docs/DATA.md

# The reference: tests/data/nvsmi_ref.py (numpy's trapezoid, skipping a cut-short line).

for trace in rtx3090-resnet50 rtx3070-vgg16; do
	test_expect_success "nvidia-smi $trace: energy equals numpy's trapezoid" '
		f="$TRACES/$trace-gpu-power.csv" &&
		set -- $("$PY" "$RQ_ROOT/tests/data/nvsmi_ref.py" "$f") && want=$1 && nrows=$3 && dur=$4 &&
		expect_success rq-import nvidia-smi "$f" &&
		got=$(json_get "$OUT" "d[\"joules\"]") &&
		samples=$(json_get "$OUT" "d[\"samples\"]") &&
		test "$samples" = "$nrows" &&
		"$PY" -c "import sys; g,w=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(g-w) > 1e-9*w)" "$got" "$want" &&
		"$PY" -c "import sys; g,w=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(g-w) > 1e-3)" "$(json_get "$OUT" "d[\"duration_s\"]")" "$dur" &&
		test "$(json_get "$OUT" "d[\"method\"]")" = imported &&
		"$PY" -c "import sys; sys.exit(abs(float(sys.argv[1])*3.6e6 - float(sys.argv[2])) > 1e-6)" "$(json_get "$OUT" "d[\"energy_kwh\"]")" "$got"
	'
done

test_expect_success 'nvidia-smi: the line cut short is skipped with a warning' '
	expect_success rq-import nvidia-smi "$TRACES/rtx3090-resnet50-gpu-power.csv" &&
	last=$(wc -l <"$TRACES/rtx3090-resnet50-gpu-power.csv") &&
	grep -F "line $((last + 1)): incomplete last line skipped (the log was cut short)" "$ERR"
'

test_expect_success 'nvidia-smi: a bad line in the middle is an error naming it' '
	head -5 "$TRACES/rtx3070-vgg16-gpu-power.csv" >bad.csv &&
	echo "2023/03/02 09:00:35.000, NVIDIA GeForce RTX 3070, 10 %, 5 %, 8192 MiB, 7375 MiB, hot, 240.00 W, 40" >>bad.csv &&
	tail -3 "$TRACES/rtx3070-vgg16-gpu-power.csv" >>bad.csv &&
	expect_error 1 "bad.csv: line 6: power.draw '\''hot'\'' is not in watts" rq-import nvidia-smi bad.csv &&
	printf "timestamp, name\n" >nopower.csv &&
	expect_error 1 "nopower.csv: no '\''power.draw'\'' column" rq-import nvidia-smi nopower.csv &&
	expect_error 1 "missing.csv: No such file" rq-import nvidia-smi missing.csv
'

# CodeCarbon headers: v1.2 (no codecarbon_version), v2.x, v3.x (more
# columns, another order); all must give the same run.
cat >v1.csv <<'CSV'
timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud
2022-06-01T10:00:00,codecarbon,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,120.5,0.0123,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0101,France,FRA,,,,Linux-5.15,3.9.7,8,Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz,1,NVIDIA GeForce RTX 3090,2.35,48.85,31.4,machine,N
CSV
cat >v2.csv <<'CSV'
timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue
2024-01-01T10:00:00,codecarbon,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,120.5,0.0123,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0101,France,FRA,,,,Linux-6.1,3.11.2,2.3.4,8,"Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz",1,1 x NVIDIA GeForce RTX 3090,2.35,48.85,31.4,machine,N,1.0
CSV
cat >v3.csv <<'CSV'
timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue,wue,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,ram_used_gb
2025-05-01T10:00:00,codecarbon,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,5b0fa12a-3dd7-45bb-9766-cc326314d9f1,120.5,0.0123,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0101,0,France,FRA,,,,Linux-6.8,3.12.3,3.0.1,8,"Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz",1,"1 x NVIDIA GeForce RTX 3090",2.35,48.85,31.4,machine,N,1.0,0,55.2,80.1,40.0,12.5
CSV

for v in v1 v2 v3; do
	test_expect_success "codecarbon $v header: columns read by name" '
		expect_success rq-import codecarbon $v.csv &&
		"$PY" - "$OUT" $v.csv <<-PY
		import csv, json, sys
		got = json.load(open(sys.argv[1]))
		row = list(csv.DictReader(open(sys.argv[2], newline="", encoding="utf-8-sig")))[-1]
		assert len(got) == 1, got
		g = got[0]
		assert g["energy_kwh"] == float(row["energy_consumed"]), g
		assert g["carbon_kg"] == float(row["emissions"]), g
		assert g["duration_s"] == float(row["duration"]), g
		assert g["run_id"] == row["run_id"] and g["country_iso_code"] == row["country_iso_code"]
		assert g["cpu_model"] == row["cpu_model"] and g["method"] == "imported" and g["meter"] == "codecarbon"
		assert ("codecarbon_version" in g) == ("codecarbon_version" in row)
		PY
	'
done

test_expect_success 'codecarbon: BOM, CRLF, quoted fields, several runs, selection by run_id' '
	"$PY" - <<-PY &&
	import csv
	with open("multi.csv", "w", newline="", encoding="utf-8-sig") as f:
	    w = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
	    w.writerow(["timestamp", "project_name", "run_id", "duration", "emissions", "energy_consumed", "cpu_model"])
	    w.writerow(["2024-01-01T10:00:00", "p, with comma", "run-a", "10", "0.001", "0.01", "A \"quoted\" CPU"])
	    w.writerow(["2024-01-01T11:00:00", "p", "run-b", "20", "0.002", "0.02", "B"])
	    w.writerow(["2024-01-01T12:00:00", "p", "run-a", "30", "0.003", "0.03", "A \"quoted\" CPU"])
	PY
	head -c 3 multi.csv | od -An -tx1 | grep -q "ef bb bf" &&
	expect_success rq-import codecarbon multi.csv &&
	test "$(json_get "$OUT" "len(d)")" = 2 &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 30")" = True &&
	test "$(json_get "$OUT" "d[0][\"project_name\"]")" = p &&
	test "$(json_get "$OUT" "d[1][\"energy_kwh\"] == 0.02")" = True &&
	expect_success rq-import codecarbon multi.csv run-b &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"run_id\"]")" = run-b &&
	expect_error 1 "multi.csv: no run '\''run-z'\'' (runs: run-a, run-b)" rq-import codecarbon multi.csv run-z
'

test_expect_success 'codecarbon: rejected files name the file, line and reason' '
	printf "run_id,duration,emissions\nx,1,2\n" >noenergy.csv &&
	expect_error 1 "noenergy.csv: no '\''energy_consumed'\'' column (not a CodeCarbon emissions file?)" rq-import codecarbon noenergy.csv &&
	printf "run_id,duration,emissions,energy_consumed\nx,1,2,-3\n" >neg.csv &&
	expect_error 1 "neg.csv: line 2: '\''energy_consumed'\'' is not a number >= 0: '\''-3'\''" rq-import codecarbon neg.csv &&
	printf "run_id,duration,emissions,energy_consumed\n\"x,1,2,3\n" >quote.csv &&
	expect_error 1 "quote.csv: line 2: unterminated quoted field" rq-import codecarbon quote.csv &&
	printf "run_id,duration,emissions,energy_consumed\nx,1,2,3,4\n" >wide.csv &&
	expect_error 1 "wide.csv: line 2: 5 fields, the header has 4" rq-import codecarbon wide.csv
'

test_done
