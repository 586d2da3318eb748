#!/bin/sh
# Meters without the hardware: a fake powercap tree (RESQUE_SYSFS_ROOT), a
# fake libnvidia-ml built here (RESQUE_NVML_LIB), and the CPU-time estimate
# of a real process tree checked against the kernel's own accounting.
. "$(dirname "$0")/lib.sh"

val() { sed -n "s/^$1 //p" "$OUT"; }
near() { # got want relative-tolerance
	"$PY" -c "import sys; g,w,r=map(float,sys.argv[1:]); sys.exit(not abs(g-w) <= r*abs(w))" "$1" "$2" "$3"
}

test_expect_success 'build the fake NVML library' '
	${CC:-cc} -shared -fPIC -O1 -o libfake-nvml.so "$RQ_ROOT/tests/fixtures/fake-nvml.c" &&
	test -f libfake-nvml.so
'
NVML="$SCRATCH/libfake-nvml.so"

test_expect_success 'nvml: the energy counter where supported' '
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_ENERGY=1 FAKE_NVML_WATTS=150 FAKE_NVML_COUNT=2 \
		expect_success rq-meter --meter nvml --seconds 1 --interval 0.1 &&
	test "$(val method)" = measured && test "$(val meter)" = nvml &&
	grep -q "^domain gpu0 " "$OUT" && grep -q "^domain gpu1 " "$OUT" &&
	! grep -q "no energy counter" "$ERR" &&
	near "$(val joules)" "$("$PY" -c "print(2*150*$(val seconds))")" 0.05
'

test_expect_success 'nvml: power integrated over time when the counter is not supported' '
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_WATTS=80 \
		expect_success rq-meter --meter nvml --seconds 1 --interval 0.1 &&
	grep -F "nvml: gpu0 has no energy counter; integrating its power readings" "$ERR" &&
	near "$(val joules)" "$("$PY" -c "print(80*$(val seconds))")" 1e-6
'

test_expect_success 'nvml: CUDA_VISIBLE_DEVICES by index and UUID' '
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_COUNT=4 CUDA_VISIBLE_DEVICES=2,GPU-fake-0 \
		expect_success rq-meter --meter nvml --seconds 0.2 &&
	test "$(grep -c ^domain "$OUT")" = 2 &&
	grep -q "^domain gpu2 " "$OUT" && grep -q "^domain GPU-fake-0 " "$OUT" &&
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_COUNT=4 CUDA_VISIBLE_DEVICES=1,9,3 \
		expect_success rq-meter --meter nvml --seconds 0.2 &&
	test "$(grep -c ^domain "$OUT")" = 1 &&
	RESQUE_NVML_LIB="$NVML" CUDA_VISIBLE_DEVICES= \
		expect_error 1 "nvml: no visible GPU" rq-meter --meter nvml --seconds 0.2
'

test_expect_success 'nvml: a missing library or a failing driver is explained' '
	RESQUE_NVML_LIB="$SCRATCH/nope.so" expect_error 1 "nvml: $SCRATCH/nope.so: cannot be loaded" \
		rq-meter --meter nvml &&
	RESQUE_NVML_LIB="$NVML" FAKE_NVML_INIT_FAIL=1 expect_error 1 "nvml: nvmlInit failed (error 9)" \
		rq-meter --meter nvml
'

test_expect_success 'rapl: package and dram zones of a fake powercap tree' '
	pc=sysfs/sys/class/powercap &&
	mkdir -p $pc/intel-rapl:0 $pc/intel-rapl:0:0 $pc/intel-rapl:0:1 &&
	echo package-0 >$pc/intel-rapl:0/name && echo 1000 >$pc/intel-rapl:0/energy_uj &&
	echo 262143328850 >$pc/intel-rapl:0/max_energy_range_uj &&
	echo core >$pc/intel-rapl:0:0/name && echo 1 >$pc/intel-rapl:0:0/energy_uj &&
	echo dram >$pc/intel-rapl:0:1/name && echo 7 >$pc/intel-rapl:0:1/energy_uj &&
	RESQUE_SYSFS_ROOT="$SCRATCH/sysfs" expect_success rq-meter --meter rapl --seconds 0.3 &&
	test "$(val method)" = measured && test "$(val meter)" = rapl &&
	grep -q "^domain package-0 0$" "$OUT" && grep -q "^domain dram-0 0$" "$OUT" &&
	! grep -q "^domain core" "$OUT"
'

test_expect_success 'auto: unreadable RAPL falls back to the estimate with a reason' '
	RESQUE_SYSFS_ROOT="$SCRATCH/empty" RESQUE_NVML_LIB="$SCRATCH/nope.so" \
		expect_success rq-meter --meter auto --cpu-watts 64 --seconds 0.2 &&
	test "$(val method)" = estimated && test "$(val meter)" = estimate &&
	grep -F "rapl: $SCRATCH/empty/sys/class/powercap: No such file or directory; estimating CPU energy instead" "$ERR" &&
	RESQUE_SYSFS_ROOT="$SCRATCH/sysfs" RESQUE_NVML_LIB="$NVML" \
		expect_success rq-meter --meter auto --seconds 0.2 &&
	test "$(val meter)" = rapl+nvml && test "$(val method)" = measured
'

test_expect_success 'estimate: CPU time of the whole process tree x watts per CPU' '
	# a child that forks two busy grandchildren; the kernel accounting of
	# that very run (the shell'"'"'s `times`: its own and its waited-for
	# children'"'"'s CPU time) is the reference, so the load of the machine
	# cannot make the two disagree
	cat >busy.sh <<-\SH &&
	spin() { i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; }
	spin & spin & wait
	times >times.txt
	SH
	expect_success rq-meter --meter estimate --cpu-watts 80 --interval 0.05 -- sh busy.sh &&
	test "$(val method)" = estimated &&
	near "$(val watts_per_cpu)" 80 1e-12 &&
	ref=$("$PY" -c "
import re
print(sum(float(m) * 60 + float(s) for m, s in re.findall(r\"(\d+)m([\d.]+)s\", open(\"times.txt\").read())))") &&
	test "$("$PY" -c "print($ref > 0.2)")" = True &&
	near "$(val cpu_seconds)" "$ref" 0.35 &&
	cpuj=$(sed -n "s/^domain cpu (estimate) //p" "$OUT") &&
	near "$cpuj" "$("$PY" -c "print($(val cpu_seconds)*$(val watts_per_cpu))")" 1e-6
'

test_expect_success 'estimate: unknown meter kind is refused' '
	expect_error 1 "unknown meter '\''joulemeter'\''" rq-meter --meter joulemeter
'

test_done
