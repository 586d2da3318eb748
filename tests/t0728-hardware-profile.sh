#!/bin/sh
# The machine's default hardware profile ("cpu:MODEL xN; gpu:NAME xK"):
# recorded by `resque run` and used by `resque plan` when neither
# --hardware nor config hardware says otherwise, so that runs and plans on
# one machine match. A fake /proc/cpuinfo (RESQUE_PROC_ROOT) and a fake
# libnvidia-ml (RESQUE_NVML_LIB) make the machine.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY


PROFILE="cpu:AMD EPYC 7B13 x4; gpu:NVIDIA A100-SXM4-40GB x2; gpu:Tesla T4 x1"

test_expect_success 'setup: a repository, v1 with a cost that names no hardware, a fake machine with three GPUs' '
	expect_success resque init p &&
	${CC:-cc} -shared -fPIC -O1 -o libfake-nvml.so "$RQ_ROOT/tests/fixtures/fake-nvml.c" &&
	mkdir -p proc && cp "$RQ_ROOT/tests/fixtures/cpuinfo/vm-epyc-7b13-4vcpu" proc/cpuinfo &&
	cd p && printf weights1 >w1.bin &&
	make_embeddings d1 1 0 && make_embeddings d2 2 0.5 && make_embeddings d3 3 1 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy \
		--cost cost1.json
'
# the fake machine: its GPU 0 a T4, the others A100s
machine() {
	RESQUE_PROC_ROOT="$SCRATCH/proc" RESQUE_NVML_LIB="$SCRATCH/libfake-nvml.so" FAKE_NVML_COUNT=3 \
		FAKE_NVML_NAME="NVIDIA A100-SXM4-40GB" FAKE_NVML_NAME0="Tesla T4" RESQUE_SYSFS_ROOT="$SCRATCH/nowhere" "$@"
}

test_expect_success 'run records the machine profile when no hardware is set' '
	cd p && machine expect_success resque run --region FR --interval 0.05 --json -- true &&
	test "$(json_get "$OUT" "d[\"body\"][\"hardware\"]")" = "$PROFILE" &&
	machine expect_success resque run --region FR --hardware box --json -- true &&
	test "$(json_get "$OUT" "d[\"body\"][\"hardware\"]")" = box
'

test_expect_success 'with config hardware unset, a plan and the run that carries it out agree' '
	cd p && machine expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy \
		--intensity 100 --json &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"hardware\"]")" = "$PROFILE" &&
	plan=$(json_get "$OUT" "d[\"plans\"][0][\"id\"]") &&
	machine expect_success resque run --plan "$plan" --region FR --interval 0.05 --json -- \
		sh -c "for i in 1 2 3 4 5; do sleep 0.15; resque mark epoch; done" &&
	test "$(json_get "$OUT" "d[\"body\"][\"hardware\"]")" = "$PROFILE" &&
	test "$(json_get "$OUT" "d[\"epochs\"]")" = 5 &&
	machine expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy \
		--intensity 100 --dry-run --json &&
	json_get "$OUT" "d[\"plans\"][0][\"energy_per_epoch\"]" &&
	json_get "$OUT" "d[\"plans\"][0][\"energy_per_epoch\"][\"source\"]" >source &&
	grep -F "on '"'"'$PROFILE'"'"'" source && ! grep -F "no energy measured" source &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"energy_per_epoch\"][\"kwh\"] > 0")" = True
'

# Another machine does not use the fake machine's runs; v1's cost file,
# which does not say where it ran, is taken as the same hardware (and said).
test_expect_success 'another machine does not match; --hardware and config hardware come first' '
	cd p && RESQUE_NVML_LIB="$SCRATCH/nope.so" RESQUE_PROC_ROOT="$SCRATCH/proc" \
		expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --dry-run --json &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"hardware\"]")" = "cpu:AMD EPYC 7B13 x4" &&
	json_get "$OUT" "d[\"plans\"][0][\"energy_per_epoch\"][\"source\"]" >source2 && cat source2 &&
	! grep -F "$PROFILE" source2 &&
	grep -F "none measured on '"'"'cpu:AMD EPYC 7B13 x4'"'"': taken as the same hardware" source2 &&
	expect_success resque config hardware rig &&
	machine expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 --dry-run --json &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"hardware\"]")" = rig &&
	machine expect_success resque run --region FR --json -- true &&
	test "$(json_get "$OUT" "d[\"body\"][\"hardware\"]")" = rig &&
	machine expect_success resque plan --from v1 --embeddings d3-emb.npy --labels d3-lab.npy --intensity 100 \
		--hardware other --dry-run --json &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"hardware\"]")" = other
'

test_done
