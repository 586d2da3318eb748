#!/bin/sh
# resque run with hardware meters, without the hardware: a fake powercap
# tree (RESQUE_SYSFS_ROOT) whose counters the command itself advances, and
# a fake libnvidia-ml built here (RESQUE_NVML_LIB).
. "$(dirname "$0")/lib.sh"

near() { # got want relative-tolerance
	"$PY" -c "import sys; g,w,r=map(float,sys.argv[1:]); sys.exit(not abs(g-w) <= r*abs(w))" "$1" "$2" "$3"
}
PC=sysfs/sys/class/powercap

test_expect_success 'setup: a repository, a fake powercap tree, the fake NVML' '
	expect_success resque init p &&
	mkdir -p p/$PC/intel-rapl:0 p/$PC/intel-rapl:0:1 &&
	echo package-0 >p/$PC/intel-rapl:0/name &&
	echo 262143328850 >p/$PC/intel-rapl:0/max_energy_range_uj &&
	echo dram >p/$PC/intel-rapl:0:1/name &&
	echo 65712999613 >p/$PC/intel-rapl:0:1/max_energy_range_uj &&
	${CC:-cc} -shared -fPIC -O1 -o libfake-nvml.so "$RQ_ROOT/tests/fixtures/fake-nvml.c"
'
NVML="$SCRATCH/libfake-nvml.so"

test_expect_success 'rapl: package and dram counters, one wrapping around, measured' '
	cd p &&
	pkg0=262142328850 pkg1=2000000 dram0=1000 dram1=501000 &&
	echo $pkg0 >$PC/intel-rapl:0/energy_uj && echo $dram0 >$PC/intel-rapl:0:1/energy_uj &&
	RESQUE_SYSFS_ROOT=$PWD/sysfs expect_success resque run --meter rapl --region DE --interval 0.05 --json -- \
		sh -c "sleep 0.2; echo $pkg1 >$PC/intel-rapl:0/energy_uj; echo $dram1 >$PC/intel-rapl:0:1/energy_uj; sleep 0.2" &&
	want=$("$PY" -c "print(((262143328850 - $pkg0 + $pkg1) + ($dram1 - $dram0)) / 1e6 / 3.6e6)") &&
	near "$(json_get "$OUT" "d[\"energy_kwh\"]")" "$want" 1e-12 &&
	test "$(json_get "$OUT" "d[\"method\"]")" = measured &&
	test "$(json_get "$OUT" "d[\"meter\"]")" = rapl &&
	test "$(json_get "$OUT" "sorted(d[\"body\"][\"domains_kwh\"])")" = "['\''dram-0'\'', '\''package-0'\'']" &&
	test "$(json_get "$OUT" "\"estimate\" in d[\"body\"]")" = False &&
	! grep -q estimated "$ERR"
'

test_expect_success 'auto: an unreadable RAPL falls back to the estimate with a one-line reason' '
	cd p &&
	RESQUE_SYSFS_ROOT=$PWD/nowhere RESQUE_NVML_LIB=$PWD/nope.so \
		expect_success resque run --meter auto --json -- true &&
	grep -F "resque: rapl: $PWD/nowhere/sys/class/powercap: No such file or directory; estimating CPU energy instead" "$ERR" &&
	grep -F "resque: energy is estimated from CPU time, not measured" "$ERR" &&
	test "$(json_get "$OUT" "d[\"method\"]")" = estimated &&
	test "$(json_get "$OUT" "d[\"meter\"]")" = estimate &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" | grep -q "estimating CPU energy instead"
'

test_expect_success 'nvml: power integrated over the run, CUDA_VISIBLE_DEVICES honoured' '
	cd p &&
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_WATTS=150 FAKE_NVML_COUNT=4 CUDA_VISIBLE_DEVICES=1,3 \
		expect_success resque run --meter nvml --interval 0.05 --json -- sleep 0.5 &&
	test "$(json_get "$OUT" "d[\"method\"]")" = measured &&
	test "$(json_get "$OUT" "d[\"meter\"]")" = nvml &&
	test "$(json_get "$OUT" "sorted(d[\"body\"][\"domains_kwh\"])")" = "['\''gpu1'\'', '\''gpu3'\'']" &&
	grep -F "no energy counter; integrating its power readings" "$ERR" &&
	near "$(json_get "$OUT" "d[\"energy_kwh\"] * 3.6e6")" "$(json_get "$OUT" "2 * 150 * d[\"duration_s\"]")" 0.02
'

test_expect_success 'nvml: the energy counter where supported; auto combines rapl+nvml' '
	cd p &&
	RESQUE_SYSFS_ROOT=$PWD/sysfs RESQUE_NVML_LIB="$NVML" FAKE_NVML_ENERGY=1 FAKE_NVML_WATTS=80 \
		expect_success resque run --meter auto --interval 0.05 --json -- sleep 0.4 &&
	test "$(json_get "$OUT" "d[\"meter\"]")" = rapl+nvml &&
	test "$(json_get "$OUT" "d[\"method\"]")" = measured &&
	! grep -q "no energy counter" "$ERR" &&
	near "$(json_get "$OUT" "d[\"body\"][\"domains_kwh\"][\"gpu0\"] * 3.6e6")" "$(json_get "$OUT" "80 * d[\"duration_s\"]")" 0.1
'

test_expect_success 'nvml: a failing driver is explained before anything runs' '
	cd p && repo_state >before && rm -f ran &&
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_INIT_FAIL=1 expect_error 1 "nvml: nvmlInit failed (error 9)" \
		resque run --meter nvml -- touch ran &&
	test ! -e ran && repo_state >after && compare before after
'

test_done
