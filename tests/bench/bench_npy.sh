#!/bin/sh
# .npy streaming: rq_array_read_f32 over a ~1 GiB float32 file in row
# blocks, against `cat FILE > /dev/null`, both from the page cache (each
# best of 3 after a warm-up read). BENCH_NPY_MB sets the size.
set -u
mb=${BENCH_NPY_MB:-1024}
dir=${BENCH_DIR:?}
f32="$dir/npy-f32.npy"
f16="$dir/npy-f16.npy"
cols=512
rows=$((mb * 1024 * 1024 / (4 * cols)))
"$PY" - "$f32" "$f16" "$rows" "$cols" <<'PY' || exit 1
import sys
import numpy as np
f32, f16, rows, cols = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
mm = np.lib.format.open_memmap(f32, mode="w+", dtype="<f4", shape=(rows, cols))
step = 65536
for r in range(0, rows, step):
    mm[r:r + step] = rng.standard_normal((min(step, rows - r), cols), dtype=np.float32)
mm.flush()
h = np.lib.format.open_memmap(f16, mode="w+", dtype=">f2", shape=(rows // 4, cols))
h[:] = mm[: rows // 4]
h.flush()
PY

cat_best() { # file: best seconds of 3 `cat FILE > /dev/null`
	best=
	for _ in 1 2 3; do
		t0=$(date +%s.%N)
		cat "$1" >/dev/null
		t1=$(date +%s.%N)
		best=$(echo "$t0 $t1 ${best:-}" | awk '{t = $2 - $1; if ($3 == "" || t < $3) print t; else print $3}')
	done
	echo "$best"
}

cat "$f32" "$f16" >/dev/null # into the page cache
size=$(stat -c %s "$f32")
tcat=$(cat_best "$f32")
set -- $(rq-array-bench --repeat 3 "$f32" 2>/dev/null)
tf32=$2
set -- $(rq-array-bench --repeat 3 --f64 "$f32" 2>/dev/null)
tf64=$2
size16=$(stat -c %s "$f16")
tcat16=$(cat_best "$f16")
set -- $(rq-array-bench --repeat 3 "$f16" 2>/dev/null)
th16=$2

awk -v s="$size" -v c="$tcat" -v a="$tf32" -v b="$tf64" -v s16="$size16" -v c16="$tcat16" -v h="$th16" 'BEGIN {
	printf "%-44s %8s %8s %10s\n", "", "GB/s", "seconds", "vs cat"
	printf "%-44s %8.2f %8.3f %10s\n", "cat FILE > /dev/null (" int(s / 1048576) " MiB f4)", s / c / 1e9, c, "1.00"
	printf "%-44s %8.2f %8.3f %10.2f\n", "rq_array_read_f32, <f4 C order", s / a / 1e9, a, c / a
	printf "%-44s %8.2f %8.3f %10.2f\n", "rq_array_read_f64, <f4 C order", s / b / 1e9, b, c / b
	printf "%-44s %8.2f %8.3f %10s\n", "cat FILE > /dev/null (" int(s16 / 1048576) " MiB >f2)", s16 / c16 / 1e9, c16, "1.00"
	printf "%-44s %8.2f %8.3f %10.2f\n", "rq_array_read_f32, >f2 (big-endian half)", s16 / h / 1e9, h, c16 / h
	print "(ratio = cat time / resque time: above 1 means faster than cat; one core each)"
}'
rm -f "$f32" "$f16"
