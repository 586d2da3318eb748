#!/bin/sh
# Plausible ranges (docs/FORMATS.md "Plausible ranges"): finite but absurd
# figures, hexadecimal numbers, unknown country codes, control characters in
# names, duplicate CSV columns, NUL bytes in .npy headers and degenerate power
# logs are refused with a clear message and leave the repository unchanged;
# and no forecast prints or signs NaN or infinity.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

nl='
'

test_expect_success 'setup: a repository with v1, a recorded plan' '
	expect_success resque init p && cd p &&
	printf weights1 >w1.bin && printf weights2 >w2.bin &&
	"$PY" -c "
import numpy as np
g = np.random.default_rng(1)
for n, s in ((\"d1\", 0), (\"d2\", 0.5)):
    y = g.integers(0, 3, 200)
    x = np.random.default_rng(7).standard_normal((3, 4))[y] * 2 + g.standard_normal((200, 4)) + s
    np.save(n + \"-emb.npy\", x.astype(np.float32)); np.save(n + \"-lab.npy\", y.astype(np.int64))
" &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"hardware\": \"gpu\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque config hardware gpu &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --json &&
	json_get "$OUT" "d[\"plans\"][0][\"id\"]" >plan.id
'

test_expect_success 'cost files: an absurd energy, duration, epochs, PUE, intensity, carbon are refused' '
	cd p && repo_state >before &&
	printf "{\"epochs\": 10, \"energy_kwh\": 1.79e308, \"duration_s\": 5}" >c.json &&
	expect_error 1 "c.json: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 10, \"energy_kwh\": 1, \"duration_s\": 1e10}" >c.json &&
	expect_error 1 "c.json: duration_s 1e+10 is outside the plausible range [0, 1e+09] s" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 20000000, \"energy_kwh\": 1, \"duration_s\": 1}" >c.json &&
	expect_error 1 "c.json: epochs 2e+07 is outside the plausible range [0, 1e+07]" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 1.5, \"energy_kwh\": 1, \"duration_s\": 1}" >c.json &&
	expect_error 1 "c.json: epochs 1.5 is not a whole number" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1, \"pue\": 3.5}" >c.json &&
	expect_error 1 "c.json: pue 3.5 is outside the plausible range [1, 3]" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1, \"intensity_g_per_kwh\": 2500}" >c.json &&
	expect_error 1 "c.json: intensity_g_per_kwh 2500 is outside the plausible range [0, 2000] g/kWh" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1, \"carbon_kg\": 5e9}" >c.json &&
	expect_error 1 "c.json: carbon_kg 5e+09 is outside the plausible range [0, 1e+09] kg" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	printf "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1, \"hardware\": \"a\\\\nb\"}" >c.json &&
	expect_error 1 "c.json: '\''hardware'\'' must not contain control characters" \
		resque commit --weights w2.bin --name v2 --parent v1 --cost c.json &&
	repo_state >after && compare before after
'

test_expect_success 'the plausible limits themselves are accepted' '
	cd p && printf "{\"epochs\": 10000000, \"energy_kwh\": 1e9, \"duration_s\": 1e9, \"pue\": 3, \"intensity_g_per_kwh\": 2000}" >c.json &&
	expect_success resque commit --weights w2.bin --name edge --parent v1 --cost c.json
'

test_expect_success 'record: absurd figures, hexadecimal, inf, nan and control characters are refused' '
	cd p && plan=$(cat plan.id) && repo_state >before &&
	expect_error 1 "--energy-kwh: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh" \
		resque record --plan "$plan" --epochs 3 --energy-kwh 1.79e308 &&
	expect_error 1 "--epochs: epochs 1e+08 is outside the plausible range [0, 1e+07]" \
		resque record --plan "$plan" --epochs 1e8 --energy-kwh 1 &&
	expect_error 1 "--epochs: epochs 2.5 is not a whole number" \
		resque record --plan "$plan" --epochs 2.5 --energy-kwh 1 &&
	expect_error 1 "--duration-s: duration_s 2e+09 is outside the plausible range [0, 1e+09] s" \
		resque record --plan "$plan" --epochs 3 --energy-kwh 1 --duration-s 2e9 &&
	expect_error 2 "--energy-kwh takes a number, not '\''0x10'\''" \
		resque record --plan "$plan" --epochs 3 --energy-kwh 0x10 &&
	expect_error 2 "--epochs takes a number, not '\''inf'\''" \
		resque record --plan "$plan" --epochs inf --energy-kwh 1 &&
	expect_error 2 "--energy-kwh takes a number, not '\''NaN'\''" \
		resque record --plan "$plan" --epochs 3 --energy-kwh NaN &&
	expect_error 1 "--epoch-energy-kwh: '\''1,0x2'\'' is not a comma-separated list" \
		resque record --plan "$plan" --epochs 2 --energy-kwh 3 --epoch-energy-kwh 1,0x2 &&
	expect_error 1 "--epoch-energy-kwh: energy_kwh 1e+10 is outside the plausible range" \
		resque record --plan "$plan" --epochs 2 --energy-kwh 3 --epoch-energy-kwh 1,1e10 &&
	expect_error 2 "--name: the name must not contain control characters" \
		resque record --plan "$plan" --epochs 3 --energy-kwh 1 --name "a${nl}b" &&
	repo_state >after && compare before after
'

test_expect_success 'plan: --pue and --intensity outside their ranges, hexadecimal' '
	cd p && repo_state >before &&
	expect_error 2 "--pue: pue 4 is outside the plausible range [1, 3]" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --pue 4 &&
	expect_error 2 "--intensity: intensity_g_per_kwh 1e+300 is outside the plausible range [0, 2000] g/kWh" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 1e300 &&
	expect_error 2 "--intensity takes a number, not '\''0x64'\''" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 0x64 &&
	repo_state >after && compare before after
'

test_expect_success 'import codecarbon: absurd figures, hexadecimal, ZZZ, newline in run_id, duplicate column, bad date' '
	cd p && repo_state >before &&
	h="timestamp,run_id,duration,emissions,energy_consumed,country_iso_code" &&
	printf "%s\n2024-01-01T10:00:00,r1,10,0.1,1.79e308,FRA\n" "$h" >e.csv &&
	expect_error 1 "e.csv: line 2: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh" \
		resque import codecarbon e.csv &&
	printf "%s\n2024-01-01T10:00:00,r1,0x10,0.1,1,FRA\n" "$h" >e.csv &&
	expect_error 1 "e.csv: line 2: '\''duration'\'' is not a number >= 0: '\''0x10'\''" resque import codecarbon e.csv &&
	printf "%s\n2024-01-01T10:00:00,r1,10,0.1,1,ZZZ\n" "$h" >e.csv &&
	expect_error 1 "e.csv: line 2: country_iso_code '\''ZZZ'\'' is not a known country code" \
		resque import codecarbon e.csv &&
	printf "%s\n2024-01-01T10:00:00,\"r\n1\",10,0.1,1,FRA\n" "$h" >e.csv &&
	expect_error 1 "e.csv: line 2: run_id must not contain control characters" resque import codecarbon e.csv &&
	printf "%s,energy_consumed\n2024-01-01T10:00:00,r1,10,0.1,1,FRA,2\n" "$h" >e.csv &&
	expect_error 1 "e.csv: line 1: column '\''energy_consumed'\'' appears twice (fields 5 and 7)" \
		resque import codecarbon e.csv &&
	printf "%s\n2024-02-30T10:00:00,r1,10,0.1,1,FRA\n" "$h" >e.csv &&
	expect_error 1 "e.csv: line 2: '\''2024-02-30T10:00:00'\'' is not a valid date (no day 30 in month 2 of 2024)" \
		resque import codecarbon e.csv &&
	printf "%s\n2024-01-01T10:00:00,r1,10,0.1,1,FRA\n" "$h" >e.csv &&
	expect_error 2 "--epochs: epochs 1e+08 is outside the plausible range [0, 1e+07]" \
		resque import codecarbon e.csv --epochs 100000000 &&
	repo_state >after && compare before after &&
	expect_success resque import codecarbon e.csv
'

test_expect_success 'import nvidia-smi: absurd power, hexadecimal, single-sample and zero-length logs' '
	cd p && repo_state >before &&
	h="timestamp, index, power.draw [W]" &&
	printf "%s\n2024/01/01 00:00:00.000, 0, 100 W\n2024/01/01 00:00:01.000, 0, 1.79e308 W\n" "$h" >n.csv &&
	expect_error 1 "n.csv: line 3: a sample of one GPU: power_w 1.79e+308 is outside the plausible range [0, 10000] W" \
		resque import nvidia-smi n.csv &&
	printf "%s\n2024/01/01 00:00:00.000, 0, 100 W\n2024/01/01 00:00:01.000, 0, 10001 W\n" "$h" >n.csv &&
	expect_error 1 "power_w 10001 is outside the plausible range [0, 10000] W" resque import nvidia-smi n.csv &&
	printf "%s\n2024/01/01 00:00:00.000, 0, 0x64 W\n2024/01/01 00:00:01.000, 0, 100 W\n" "$h" >n.csv &&
	expect_error 1 "n.csv: line 2: power.draw '\''0x64 W'\'' is not in watts" resque import nvidia-smi n.csv &&
	printf "%s\n2024/01/01 00:00:00.000, 0, 100 W\n" "$h" >n.csv &&
	expect_error 1 "n.csv: a single power sample per GPU" resque import nvidia-smi n.csv &&
	printf "%s\n2024/01/01 00:00:00.000, 0, 100 W\n2024/01/01 00:00:00.000, 0, 100 W\n" "$h" >n.csv &&
	expect_error 1 "n.csv: the log spans no time" resque import nvidia-smi n.csv &&
	printf "%s\n2023/02/29 00:00:00.000, 0, 100 W\n2023/02/29 00:00:01.000, 0, 100 W\n" "$h" >n.csv &&
	expect_error 1 "n.csv: line 2: '\''2023/02/29 00:00:00.000'\'' is not a valid date (no day 29 in month 2 of 2023)" \
		resque import nvidia-smi n.csv &&
	printf "%s\n1969/12/31 23:59:58.000, 0, 100 W\n1969/12/31 23:59:59.000, 0, 100 W\n" "$h" >n.csv &&
	expect_error 1 "is not a valid date (the year is outside [1970, 2200])" resque import nvidia-smi n.csv &&
	printf "timestamp, power.draw [W], power.draw [W]\n2024/01/01 00:00:00.000, 1 W, 2 W\n" >n.csv &&
	expect_error 1 "n.csv: line 1: column '\''power.draw'\'' appears twice" resque import nvidia-smi n.csv &&
	printf "%s\n2024/01/01 00:00:00.000, 0, 100 W\n2024/01/01 00:00:10.000, 0, 100 W\n" "$h" >n.csv &&
	expect_error 2 "--pue: pue 3.2 is outside the plausible range [1, 3]" resque import nvidia-smi n.csv --pue 3.2 &&
	expect_error 2 "--pue takes a number, not '\''0x2'\''" resque import nvidia-smi n.csv --pue 0x2 &&
	repo_state >after && compare before after &&
	expect_success resque import nvidia-smi n.csv
'

test_expect_success 'dataset add: a name with a newline is refused' '
	cd p && mkdir -p ds && printf 1 >ds/a && repo_state >before &&
	expect_error 1 "a dataset name must not contain control characters" resque dataset add ds --name "d${nl}s" &&
	repo_state >after && compare before after
'

test_expect_success 'a NUL byte inside an .npy header is refused' '
	cd p && repo_state >before &&
	"$PY" -c "
d = open(\"d1-emb.npy\", \"rb\").read()
i = d.index(b\"<f4\")
open(\"nul-emb.npy\", \"wb\").write(d[:i + 3] + b\"\\0\" + d[i + 4:])
" &&
	expect_error 1 "nul-emb.npy: malformed .npy header: a NUL byte at byte" \
		resque commit --weights w2.bin --name v2 --parent v1 --embeddings nul-emb.npy --labels d1-lab.npy --cost cost1.json &&
	repo_state >after && compare before after
'

test_expect_success 'an absurd actual already in the ledger: the forecast says "not forecast", never NaN' '
	cd p && plan=$(cat plan.id) &&
	printf "{\"plan\": \"%s\", \"epochs\": 7, \"energy_kwh\": 1.79e308, \"duration_s\": 1e308, \"method\": \"imported\", \"meter\": \"manual\", \"shift_family\": \"unspecified\", \"hardware\": \"gpu\"}" "$plan" |
		rq-append .resque actual >/dev/null &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 &&
	! grep -i -E "nan|inf" "$OUT" &&
	grep_out "energy \(kWh\) +not forecast" &&
	grep_out "not forecast: .*energy_kwh.*the computation overflowed" &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --json &&
	cp "$OUT" p.json && id=$(json_get p.json "d[\"plans\"][0][\"id\"]") &&
	! grep -i -E "nan|infinity" p.json &&
	json_get p.json "d[\"plans\"][0][\"not_forecast\"]" | grep -F "energy_kwh" &&
	expect_success resque show "$id" --json && cp "$OUT" show.json &&
	! grep -i -E "nan|infinity" show.json &&
	"$PY" - show.json <<-\PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	b = d.get("body", d)
	f = b["forecast"]
	# every figure signed is either absent or a full set of finite numbers
	for k, q in f.items():
	    assert q, (k, q)
	    assert set(q) == {"mean", "p50", "p10", "p90", "p2_5", "p97_5"}, (k, q)
	assert "energy_kwh" not in f and "epochs" in f, f
	assert "energy_kwh" in b["not_forecast"], b
	PYEOF
'

test_expect_success 'commit --actual: an absurd actual recorded before the bounds is refused, not signed' '
	cd p && plan=$(cat plan.id) &&
	for f in "\"energy_kwh\": 1.79e308, \"duration_s\": 10" "\"energy_kwh\": 1, \"duration_s\": 10, \"pue\": 0.5" \
		"\"energy_kwh\": 1, \"duration_s\": 10, \"intensity_g_per_kwh\": -3"; do
		printf "{\"plan\": \"%s\", \"epochs\": 7, %s, \"method\": \"imported\", \"meter\": \"manual\", \"shift_family\": \"unspecified\", \"hardware\": \"gpu\"}" "$plan" "$f" |
			rq-append .resque actual >>aids || return 1
	done &&
	repo_state >before &&
	aid=$(sed -n 1p aids) &&
	expect_error 1 "actual ${aid%"${aid#????????????}"}: energy_kwh 1.79e+308 is outside the plausible range [0, 1e+09] kWh" \
		resque commit --weights w2.bin --name v2 --parent v1 --actual "$aid" &&
	expect_error 1 "pue 0.5 is outside the plausible range" \
		resque commit --weights w2.bin --name v2 --parent v1 --actual "$(sed -n 2p aids)" &&
	expect_error 1 "intensity_g_per_kwh -3 is outside the plausible range" \
		resque commit --weights w2.bin --name v2 --parent v1 --actual "$(sed -n 3p aids)" &&
	repo_state >after && compare before after
'

test_expect_success 'run/import: a configured PUE that is hexadecimal or absurd is refused' '
	cd p && printf "{\"energy_consumed\": 1}" >/dev/null &&
	git --git-dir=.resque config resque.pue 0x2 && repo_state >before &&
	expect_error 1 "config resque.pue: '\''0x2'\'' is not a decimal number" \
		resque run --meter estimate -- true &&
	repo_state >after && compare before after &&
	git --git-dir=.resque config resque.pue 1e6 && repo_state >before &&
	expect_error 1 "config resque.pue: pue 1e+06 is outside the plausible range" \
		resque run --meter estimate -- true &&
	repo_state >after && compare before after &&
	git --git-dir=.resque config --unset resque.pue
'

test_expect_success 'events: an absurd epoch number and hexadecimal, inf, nan metrics are skipped with a warning' '
	cd p && cat >ev.sh <<-\SH &&
	printf "epoch 20000000\nmetric loss 0x10\nmetric loss inf\nmetric loss nan\nmetric loss 0.5\nepoch\n" >>"$RESQUE_EVENTS"
	SH
	expect_success resque run --meter estimate --json -- sh ev.sh &&
	grep -F "line 1: epoch 20000000 is outside the plausible range [0, 1e+07]" "$ERR" &&
	grep -F "line 2: '\''0x10'\'' is not a finite number" "$ERR" &&
	grep -F "line 3: '\''inf'\'' is not a finite number" "$ERR" &&
	grep -F "line 4: '\''nan'\'' is not a finite number" "$ERR" &&
	"$PY" - "$OUT" <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1])); b = d["body"]
	assert d["epochs"] == 1, d["epochs"]
	assert b["metrics"]["loss"] == [0.5], b["metrics"]
	PY
'

test_expect_success 'mark metric: hexadecimal, inf, nan values are refused' '
	: >ev && RESQUE_EVENTS=$PWD/ev expect_error 1 "mark metric: '\''0x10'\'' is not a finite number" resque mark metric loss 0x10 &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "mark metric: '\''nan'\'' is not a finite number" resque mark metric loss nan &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "mark metric: '\''1e999'\'' is not a finite number" resque mark metric loss 1e999 &&
	RESQUE_EVENTS=$PWD/ev expect_success resque mark metric loss 1e-3 &&
	printf "metric loss 1e-3\n" >want && compare want ev
'

test_expect_success 'plan --when: absurd or hexadecimal intensity, a duplicate column are refused' '
	cd p && repo_state >before &&
	printf "time,intensity\n2026-01-01T00:00:00Z,100\n2026-01-01T01:00:00Z,1e9\n" >w.csv &&
	expect_error 1 "w.csv: line 3: intensity_g_per_kwh 1e+09 is outside the plausible range" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --when w.csv &&
	printf "time,intensity\n2026-01-01T00:00:00Z,100\n2026-01-01T01:00:00Z,0x10\n" >w.csv &&
	expect_error 1 "w.csv: line 3: '\''0x10'\'' is not a non-negative intensity in g/kWh" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --when w.csv &&
	printf "time,intensity,Intensity\n2026-01-01T00:00:00Z,100,5\n2026-01-01T01:00:00Z,90,5\n" >w.csv &&
	expect_error 1 "column '\''intensity'\'' appears twice" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --when w.csv &&
	repo_state >after && compare before after
'

test_expect_success 'nvml: a power reading above the power_w bound is skipped' '
	${CC:-cc} -shared -fPIC -O1 -o libfake-nvml.so "$RQ_ROOT/tests/fixtures/fake-nvml.c" &&
	RESQUE_NVML_LIB="$SCRATCH/libfake-nvml.so" FAKE_NVML_WATTS=50000 \
		expect_success rq-meter --meter nvml --seconds 0.3 --interval 0.1 &&
	test "$(sed -n "s/^joules //p" "$OUT")" = 0 &&
	RESQUE_NVML_LIB="$SCRATCH/libfake-nvml.so" FAKE_NVML_WATTS=9000 \
		expect_success rq-meter --meter nvml --seconds 0.3 --interval 0.1 &&
	"$PY" -c "import sys; assert float(sys.argv[1]) > 0" "$(sed -n "s/^joules //p" "$OUT")"
'

test_done
