#!/bin/sh
# The CPU estimate's watts per logical CPU: in a virtual machine (the
# `hypervisor` flag) a per-vCPU coefficient by microarchitecture, on bare
# metal the TDP table over the package's threads; --cpu-watts >
# RESQUE_CPU_WATTS > config cpu-watts over both; each rule named in the
# record. /proc/cpuinfo fixtures (tests/fixtures/cpuinfo) through
# RESQUE_PROC_ROOT.
. "$(dirname "$0")/lib.sh"

near() { # got want relative-tolerance
	"$PY" -c "import sys; g,w,r=map(float,sys.argv[1:]); sys.exit(not abs(g-w) <= r*abs(w))" "$1" "$2" "$3"
}
FX=$RQ_ROOT/tests/fixtures/cpuinfo
EPYC_MEAN=$("$PY" -c "print((2.55 + 1.69 + 2.02) / 3)")

# est DIR [ARGS...]: resque run --meter estimate with DIR/cpuinfo as the
# machine's; the actual's --json in $OUT
est() {
	_d=$1
	shift
	RESQUE_PROC_ROOT="$SCRATCH/$_d" RESQUE_NVML_LIB="$SCRATCH/nope.so" \
		expect_success resque run --meter estimate --json "$@" -- true
}
field() { json_get "$OUT" "d[\"body\"][\"estimate\"][\"$1\"]"; }

test_expect_success 'setup: a repository and one fake /proc per fixture' '
	expect_success resque init p &&
	for f in vm-epyc-2vcpu vm-epyc-7b13-4vcpu vm-xeon-2vcpu metal-i7-8700; do
		mkdir -p "$f" && cp "$FX/$f" "$f/cpuinfo" || return 1
	done
'

test_expect_success 'a 2-vCPU VM showing only "AMD EPYC": the EPYC per-vCPU coefficient, not 85 W / 2' '
	cd p && est vm-epyc-2vcpu &&
	near "$(field watts_per_cpu)" "$EPYC_MEAN" 1e-12 &&
	test "$(field hypervisor)" = True &&
	test "$(field cpu_model)" = "AMD EPYC" &&
	test "$(field tdp_source)" = "vm: per-vCPU coefficient for AMD EPYC (mean of Cloud Carbon Footprint'"'"'s EPYC 1st-3rd Gen)" &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" >notes &&
	grep -F "estimate: CPU time x 2.09 W per logical CPU (vm: per-vCPU coefficient for AMD EPYC" notes
'

test_expect_success 'a VM with a known model: the coefficient of its microarchitecture' '
	cd p && est vm-epyc-7b13-4vcpu &&
	near "$(field watts_per_cpu)" 2.02 1e-12 &&
	test "$(field tdp_source)" = "vm: per-vCPU coefficient of AMD EPYC 3rd Gen (Cloud Carbon Footprint)"
'

test_expect_success 'a VM whose model is not classified: the stated default' '
	cd p && est vm-xeon-2vcpu &&
	near "$(field watts_per_cpu)" 3.5 1e-12 &&
	test "$(field tdp_source)" = "vm: default 3.5 W per vCPU (Cloud Carbon Footprint'"'"'s AWS average; model not classified)"
'

test_expect_success 'bare metal: the TDP table over the threads of a package' '
	cd p && est metal-i7-8700 &&
	near "$(field watts_per_cpu)" "$("$PY" -c "print(65 / 12)")" 1e-12 &&
	test "$(field hypervisor)" = False &&
	test "$(field tdp_source)" = "table: Intel Core i7-8700" &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" >notes &&
	grep -F "(table: Intel Core i7-8700: TDP 65 W / 12 threads)" notes
'

test_expect_success 'config cpu-watts < RESQUE_CPU_WATTS < --cpu-watts, each named' '
	cd p && expect_success resque config cpu-watts 4.25 &&
	expect_success resque config cpu-watts && test "$(cat "$OUT")" = 4.25 &&
	est vm-epyc-2vcpu && near "$(field watts_per_cpu)" 4.25 1e-12 &&
	test "$(field tdp_source)" = "config cpu-watts" &&
	json_get "$OUT" "d[\"body\"][\"meter_notes\"]" | grep -F "CPU time x 4.25 W per logical CPU (config cpu-watts)" &&
	RESQUE_CPU_WATTS=1.5 est vm-epyc-2vcpu && near "$(field watts_per_cpu)" 1.5 1e-12 &&
	test "$(field tdp_source)" = RESQUE_CPU_WATTS &&
	RESQUE_CPU_WATTS=1.5 est vm-epyc-2vcpu --cpu-watts 7 && near "$(field watts_per_cpu)" 7 1e-12 &&
	test "$(field tdp_source)" = --cpu-watts &&
	est metal-i7-8700 && near "$(field watts_per_cpu)" 4.25 1e-12 &&
	expect_success resque config --unset cpu-watts
'

test_expect_success 'config cpu-watts: 0, -1, abc, inf, 1e5 refused with the value named; nothing changes' '
	cd p && expect_success resque config cpu-watts 2 &&
	for v in 0 -1 abc inf nan 1e5 ""; do
		unchanged_after 1 "cpu-watts: '"'"'$v'"'"' is not a number of watts per logical CPU in (0, 10000]" \
			resque config cpu-watts -- "$v" || return 1
	done &&
	expect_success resque config cpu-watts && test "$(cat "$OUT")" = 2 &&
	expect_success resque config --unset cpu-watts
'

test_expect_success 'a bad RESQUE_CPU_WATTS, config value or --cpu-watts: refused before the command runs' '
	cd p && rm -f ran &&
	for v in 0 -1 abc inf; do
		RESQUE_CPU_WATTS=$v unchanged_after 1 "RESQUE_CPU_WATTS: '"'"'$v'"'"' is not a number of watts per logical CPU" \
			resque run --meter estimate -- touch ran || return 1
	done &&
	git config --file .resque/config resque.cpu-watts abc &&
	unchanged_after 1 "config cpu-watts: '"'"'abc'"'"' is not a number of watts per logical CPU" \
		resque run --meter estimate -- touch ran &&
	git config --file .resque/config --unset resque.cpu-watts &&
	unchanged_after 2 "--cpu-watts must be a number of watts per logical CPU in (0, 10000], not 0" \
		resque run --cpu-watts 0 -- touch ran &&
	unchanged_after 2 "--cpu-watts takes a number, not '"'"'inf'"'"'" resque run --cpu-watts inf -- touch ran &&
	test ! -e ran
'

test_done
