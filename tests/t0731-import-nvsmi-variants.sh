#!/bin/sh
# resque import nvidia-smi: the header and timestamp variants people keep
# (nvidia-smi's own, pandas rewrites), --power-column/--time-column for the
# rest, and several files recording one run (one per GPU, or one log in
# parts).
. "$(dirname "$0")/lib.sh"

# near GOT WANT: |GOT - WANT| <= 1e-9 * WANT (energies in kWh)
near() {
	"$PY" -c "import sys; g,w=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(g-w) > 1e-9*abs(w))" "$1" "$2"
}
# kwh J: joules as kWh
kwh() {
	"$PY" -c "import sys; print(float(sys.argv[1]) / 3.6e6)" "$1"
}

test_expect_success 'setup: a repository' '
	expect_success resque init p
'

# Every variant holds the same three samples: 100 W, 200 W two seconds
# later, 100 W two seconds after that: 300 J + 300 J = 600 J over 4 s.
cat >own.csv <<'CSV'
timestamp, name, index, power.draw [W]
2022/12/05 09:55:42.535, NVIDIA A100-SXM4-40GB, 0, 100.00 W
2022/12/05 09:55:44.535, NVIDIA A100-SXM4-40GB, 0, 200.00 W
2022/12/05 09:55:46.535, NVIDIA A100-SXM4-40GB, 0, 100.00 W
CSV
cat >pandas.csv <<'CSV'
,timestamp,gpu_name,gpu_index,gpu_power_draw,gpu_memory_used
0,2022-12-05 09:55:42.535,NVIDIA A100-SXM4-40GB,0,100.0,1024
1,2022-12-05 09:55:44.535,NVIDIA A100-SXM4-40GB,0,200.0,1024
2,2022-12-05 09:55:46.535,NVIDIA A100-SXM4-40GB,0,100.0,1024
CSV
cat >unnamed.csv <<'CSV'
Unnamed: 0,timestamp,name,power_draw_w
0,2022-12-05 09:55:42.535,A100,100
1,2022-12-05 09:55:44.535,A100,200
2,2022-12-05 09:55:46.535,A100,100
CSV
cat >iso.csv <<'CSV'
timestamp,power.draw (W)
2022-12-05T09:55:42.535Z,100
2022-12-05T09:55:44.535Z,200
2022-12-05T09:55:46.535Z,100
CSV
# the same instants written in two zones
cat >zones.csv <<'CSV'
Timestamp,GPU Power Draw [W]
2022-12-05T10:55:42.535+01:00,100
2022-12-05T09:55:44.535Z,200
2022-12-05T04:25:46.535-0530,100
CSV
cat >epoch.csv <<'CSV'
time,gpu_power_draw_w
1670234142.535,100
1670234144.535,200
1670234146.535,100
CSV
# pandas writes a missing reading as an empty cell or NaN: skipped
cat >nan.csv <<'CSV'
timestamp,power_draw
2022-12-05 09:55:42.535,100
2022-12-05 09:55:43.535,
2022-12-05 09:55:44.535,200
2022-12-05 09:55:45.535,NaN
2022-12-05 09:55:46.535,100
CSV

for f in own pandas unnamed iso zones epoch nan; do
	test_expect_success "header and timestamp variant $f.csv: 600 J over 4 s" '
		cp $f.csv p/ && cd p &&
		expect_success resque import nvidia-smi $f.csv --region FR --json &&
		near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 600)" &&
		test "$(json_get "$OUT" "d[0][\"duration_s\"] == 4.0")" = True &&
		test "$(json_get "$OUT" "len(d[0][\"body\"][\"gpus\"])")" = 1
	'
done

test_expect_success 'the columns read are recorded; an index column is not a GPU id' '
	cd p && expect_success resque import nvidia-smi pandas.csv --json &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"columns\"][\"time\"]")" = timestamp &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"columns\"][\"power\"]")" = gpu_power_draw &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"gpus\"][0][\"id\"]")" = 0 &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"gpus\"][0][\"name\"]")" = "NVIDIA A100-SXM4-40GB" &&
	expect_success resque import nvidia-smi nan.csv --json &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"skipped\"]")" = 2
'

cat >odd.csv <<'CSV'
when,watts_gpu0,util
2022-12-05 09:55:42.535,100,50
2022-12-05 09:55:44.535,200,60
2022-12-05 09:55:46.535,100,55
CSV

test_expect_success 'an unrecognised file names itself, its columns and the flags; the repository is unchanged' '
	cp odd.csv p/ && cd p && repo_state >before &&
	expect_error 1 "odd.csv: no '\''timestamp'\'' column (nor a known variant) among the columns found: '\''when'\'', '\''watts_gpu0'\'', '\''util'\''; name the columns with --power-column NAME and --time-column NAME" \
		resque import nvidia-smi odd.csv --region FR &&
	expect_error 1 "odd.csv: no '\''power.draw'\'' column" resque import nvidia-smi odd.csv --time-column when --region FR &&
	expect_error 1 "odd.csv: no column '\''watts'\'' (--power-column)" \
		resque import nvidia-smi odd.csv --time-column when --power-column watts --region FR &&
	expect_error 1 "odd.csv: the time and the power cannot be one column" \
		resque import nvidia-smi odd.csv --time-column when --power-column WHEN --region FR &&
	repo_state >after && compare before after
'

test_expect_success '--power-column and --time-column read the columns of other files' '
	cd p && expect_success resque import nvidia-smi odd.csv --time-column when --power-column "Watts_GPU0" --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 600)" &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"columns\"][\"power\"]")" = watts_gpu0
'

test_expect_success 'two columns that could both be the power: refused, then chosen with --power-column' '
	printf "timestamp,power.draw [W],gpu_power_draw\n2022-12-05 09:55:42,100,1\n2022-12-05 09:55:44,200,2\n" >p/two.csv &&
	cd p && repo_state >before &&
	expect_error 1 "two.csv: columns '\''power.draw [W]'\'' and '\''gpu_power_draw'\'' could both be the power: choose one with --power-column NAME" \
		resque import nvidia-smi two.csv &&
	repo_state >after && compare before after &&
	expect_success resque import nvidia-smi two.csv --power-column gpu_power_draw --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 3)"
'

test_expect_success 'bad timestamps are errors naming the line' '
	cd p && repo_state >before &&
	printf "timestamp,power_draw\n2022-12-05T09:55:42+25:00,100\n2022-12-05T09:55:44Z,100\n" >badzone.csv &&
	expect_error 1 "badzone.csv: line 2: '\''2022-12-05T09:55:42+25:00'\'' is not a timestamp" \
		resque import nvidia-smi badzone.csv &&
	printf "time,power_draw\n99999999999999,100\n99999999999999,100\n" >farepoch.csv &&
	expect_error 1 "farepoch.csv: line 2: '\''99999999999999'\'' is not a timestamp (the year is outside [1970, 2200])" \
		resque import nvidia-smi farepoch.csv &&
	repo_state >after && compare before after
'

# Several files, one run. gpu0 and gpu1: one file per GPU over the same
# seconds (summed); whole.csv split in two parts one second apart (joined,
# the second between them integrated like any other).
cat >gpu0.csv <<'CSV'
timestamp, index, power.draw [W]
2023/03/08 10:00:00.000, 0, 100 W
2023/03/08 10:00:01.000, 0, 100 W
2023/03/08 10:00:02.000, 0, 100 W
CSV
cat >gpu1.csv <<'CSV'
timestamp, index, power.draw [W]
2023/03/08 10:00:00.500, 1, 300 W
2023/03/08 10:00:01.500, 1, 300 W
2023/03/08 10:00:02.500, 1, 300 W
CSV
sed 's/, [01], /, /; s/index, //' gpu0.csv >noid0.csv
sed 's/, [01], /, /; s/index, //' gpu1.csv >noid1.csv
cat >whole.csv <<'CSV'
timestamp, index, power.draw [W]
2023/03/08 10:00:00.000, 0, 100 W
2023/03/08 10:00:01.000, 0, 150 W
2023/03/08 10:00:02.000, 0, 200 W
2023/03/08 10:00:03.000, 0, 250 W
2023/03/08 10:00:04.000, 0, 300 W
2023/03/08 10:00:05.000, 0, 100 W
CSV
head -4 whole.csv >part1.csv
{ head -1 whole.csv && tail -3 whole.csv; } >part2.csv

# repo DIR FILE...: a new repository DIR holding copies of FILEs (each
# case its own, since importing a file again is not a new import)
repo() {
	_r=$1 && shift && resque init "$_r" >/dev/null 2>&1 && cp "$@" "$_r"/
}

test_expect_success 'one file per GPU, overlapping in time: summed (with and without an id column)' '
	repo m1 gpu0.csv gpu1.csv noid0.csv noid1.csv && cd m1 &&
	expect_success resque import nvidia-smi gpu0.csv gpu1.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 800)" &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 2.5")" = True &&
	test "$(json_get "$OUT" "[g[\"id\"] for g in d[0][\"body\"][\"gpus\"]]")" = "['\''0'\'', '\''1'\'']" &&
	test "$(json_get "$OUT" "[f[\"file\"] for f in d[0][\"body\"][\"source\"][\"files\"]]")" = "['\''gpu0.csv'\'', '\''gpu1.csv'\'']" &&
	expect_success resque import nvidia-smi noid0.csv noid1.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 800)" &&
	test "$(json_get "$OUT" "len(d[0][\"body\"][\"gpus\"])")" = 2
'

# whole.csv: 125 + 175 + 225 + 275 + 200 = 1000 J over 5 s
test_expect_success 'one log in parts: joined, the same energy as the whole log' '
	repo m2 whole.csv part1.csv part2.csv && cd m2 &&
	expect_success rq-import nvidia-smi whole.csv &&
	near "$(json_get "$OUT" "d[\"energy_kwh\"]")" "$(kwh 1000)" &&
	expect_success resque import nvidia-smi part2.csv part1.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 1000)" &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 5.0")" = True &&
	test "$(json_get "$OUT" "len(d[0][\"body\"][\"gpus\"])")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"start\"]")" = "2023/03/08 10:00:00.000" &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"end\"]")" = "2023/03/08 10:00:05.000" &&
	sed "s/, 0, /, /; s/index, //" part1.csv >q1.csv && sed "s/, 0, /, /; s/index, //" part2.csv >q2.csv &&
	expect_success resque import nvidia-smi q1.csv q2.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 1000)" &&
	test "$(json_get "$OUT" "len(d[0][\"body\"][\"gpus\"])")" = 1
'

test_expect_success 'two GPUs, each in two parts: four files, one run' '
	repo m3 part1.csv part2.csv && cd m3 &&
	sed "s/, 0, /, 1, /" part1.csv >g1p1.csv && sed "s/, 0, /, 1, /" part2.csv >g1p2.csv &&
	expect_success resque import nvidia-smi part1.csv g1p2.csv part2.csv g1p1.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 2000)" &&
	test "$(json_get "$OUT" "[g[\"id\"] for g in d[0][\"body\"][\"gpus\"]]")" = "['\''0'\'', '\''1'\'']"
'

# part1: 300 J over 2 s; late: 475 J over 2 s, two hours later
test_expect_success 'a long gap between parts is left out of energy and duration, with a warning' '
	repo m4 whole.csv part1.csv && cd m4 &&
	{ head -1 whole.csv && tail -3 whole.csv | sed "s/10:00:0/12:00:0/"; } >late.csv &&
	expect_success resque import nvidia-smi part1.csv late.csv --json &&
	grep -F "late.csv: GPU 0 was not logged for 7201 s between the end of part1.csv and this file: that time is not counted" "$ERR" &&
	grep -F "1 gap(s) between the logs, 7201 s in all, covered by no file: left out of the duration" "$ERR" &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 4.0")" = True &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 775)"
'

test_expect_success 'overlapping parts of one GPU, the same file twice, a bad file among them: refused; the repository is unchanged' '
	repo m5 whole.csv part1.csv part2.csv odd.csv && cd m5 && repo_state >before &&
	expect_error 1 "whole.csv and part2.csv both hold samples of GPU 0 over 2.000 s: parts of one GPU'\''s log must follow each other in time" \
		resque import nvidia-smi whole.csv part2.csv &&
	cp part1.csv copy.csv &&
	expect_error 1 "part1.csv and copy.csv are the same file (same fingerprint): give each log once" \
		resque import nvidia-smi part1.csv copy.csv &&
	expect_error 1 "odd.csv: no '\''timestamp'\'' column" resque import nvidia-smi part1.csv odd.csv &&
	repo_state >after && compare before after &&
	expect_success resque verify
'

# Two GPUs whose timestamps differ by milliseconds, rewritten by pandas
# with its own row-number "index" beside "gpu_index": GPU 0 at 100 W and
# GPU 1 at 300 W for 2 s each: 200 J + 600 J.
cat >pdms.csv <<'CSV'
index,timestamp,gpu_index,gpu_power_draw
0,2022-12-05 09:55:42.535,0,100
1,2022-12-05 09:55:42.537,1,300
2,2022-12-05 09:55:43.535,0,100
3,2022-12-05 09:55:43.537,1,300
4,2022-12-05 09:55:44.535,0,100
5,2022-12-05 09:55:44.537,1,300
CSV
sed 's/gpu_index/index (GPU)/' pdms.csv >twoidx.csv

test_expect_success 'pandas index beside gpu_index: the GPU column is the id (ms-different timestamps kept apart)' '
	repo m7 pdms.csv twoidx.csv && cd m7 &&
	expect_success resque import nvidia-smi pdms.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 800)" &&
	test "$(json_get "$OUT" "len(d[0][\"body\"][\"gpus\"])")" = 2 &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"gpus\"][1][\"id\"]")" = 1
'

test_expect_success 'two id columns that cannot be told apart: refused with a hint; the repository is unchanged' '
	cd m7 && repo_state >before &&
	expect_error 1 "twoidx.csv: columns '\''index'\'' and '\''index (GPU)'\'' could both be the GPU id: remove the one holding row numbers (pandas: write with to_csv(index=False))" \
		resque import nvidia-smi twoidx.csv &&
	repo_state >after && compare before after
'

test_expect_success 'escape sequences in a file reach no terminal: header fields, GPU ids in warnings' '
	repo m8 own.csv && cd m8 &&
	printf "when,\033]0;PWN\007\033[31m,util\n2022-12-05 09:55:42,1,2\n" >esc.csv &&
	expect_error 1 "esc.csv: no '\''timestamp'\'' column (nor a known variant) among the columns found: '\''when'\'', '\''?]0;PWN??[31m'\''" \
		resque import nvidia-smi esc.csv &&
	! grep -q "$(printf "\033")" "$ERR" &&
	printf "timestamp, index, power.draw [W]\n2022/12/05 09:55:42, \033[31mX, 100 W\n2022/12/05 09:55:44, \033[31mX, 100 W\n2022/12/05 09:55:45, \033[31mX, [N/A]\n" >esc2.csv &&
	printf "timestamp, index, power.draw [W]\n2022/12/05 09:55:43, \033[31mX, 100 W\n2022/12/05 09:55:46, \033[31mX, 100 W\n" >esc3.csv &&
	expect_error 1 "esc2.csv and esc3.csv both hold samples of GPU ?[31mX" resque import nvidia-smi esc2.csv esc3.csv &&
	grep -F "warning: esc2.csv: 1 rows without a power reading" "$ERR" &&
	! grep -q "$(printf "\033")" "$ERR"
'

test_expect_success 'a time column of elapsed milliseconds is refused, not read as seconds; the repository is unchanged' '
	repo m9 own.csv && cd m9 && repo_state >before &&
	printf "time_ms,power_w\n0,100\n1000,100\n2000,100\n" >ms.csv &&
	expect_error 1 "ms.csv: line 2: '\''0'\'' is not a timestamp: as seconds since 1970 it falls before 2000 (an elapsed time? its unit, s or ms, cannot be told)" \
		resque import nvidia-smi ms.csv --time-column time_ms &&
	repo_state >after && compare before after
'

test_expect_success 'logs of several nodes (each its GPU 0 over the same time): refused naming --per-node, summed with it' '
	repo m10 own.csv && cd m10 && sed "s/NVIDIA A100-SXM4-40GB/H100/; s/100.00 W/150 W/; s/200.00 W/250 W/" own.csv >node2.csv &&
	repo_state >before &&
	expect_error 1 "own.csv and node2.csv both hold samples of GPU 0 over 4.000 s: parts of one GPU'\''s log must follow each other in time (the same samples given twice? logs of other machines: --per-node)" \
		resque import nvidia-smi own.csv node2.csv &&
	repo_state >after && compare before after &&
	expect_success resque import nvidia-smi --per-node own.csv node2.csv --json &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 1400)" &&
	test "$(json_get "$OUT" "d[0][\"duration_s\"] == 4.0")" = True &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"gpus\"][1][\"id\"]")" = node2.csv:0
'

test_expect_success 'a log without its header line (--format=csv,noheader) is refused saying so; the repository is unchanged' '
	repo m11 own.csv && cd m11 && tail -n +2 own.csv >nohdr.csv && repo_state >before &&
	expect_error 1 "nohdr.csv: no header line (the first line is a sample: '\''2022/12/05 09:55:42.535'\'' is a timestamp): log with nvidia-smi --format=csv, not csv,noheader" \
		resque import nvidia-smi nohdr.csv &&
	repo_state >after && compare before after
'

test_expect_success 'an "index" column of row numbers 0, 1, 2 (pandas'"'"' own) is read as row numbers, with a warning' '
	repo m12 own.csv && cd m12 &&
	printf "index,timestamp,power_draw\n0,2022-12-05 09:55:42.535,100\n1,2022-12-05 09:55:44.535,200\n2,2022-12-05 09:55:46.535,100\n" >rows.csv &&
	expect_success resque import nvidia-smi rows.csv --json &&
	grep -F "warning: rows.csv: the GPU id column holds the row numbers 0, 1, 2 ... (a pandas index): read as row numbers, not GPU ids" "$ERR" &&
	near "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" "$(kwh 600)"
'

test_expect_success 'the ledger verifies after the imports' '
	cd p && expect_success resque verify
'

test_done
