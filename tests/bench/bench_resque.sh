#!/bin/sh
# RESQUE benchmarks (docs/PERFORMANCE.md): summarize and measure dist throughput and
# peak RSS against numpy per-class sums; measure task wall time and peak
# RSS against scikit-learn's KMeans + adjusted_rand_score on the same data
# and thread count, and whether the labels agree. Never fails on speed.
# BENCH_N, BENCH_D, BENCH_K, BENCH_THREADS override the defaults
# (100000 × 512 float32, 10 overlapping classes, all cores).
set -u
PY=${PY:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
N=${BENCH_N:-100000} D=${BENCH_D:-512} K=${BENCH_K:-10}
T=${BENCH_THREADS:-$(nproc)}
export OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T
dir=$BENCH_DIR/resque
mkdir -p "$dir"
cd "$dir" || exit 1

"$PY" "$here/bench_resque.py" gen "$dir" "$N" "$D" "$K" || exit 1
bytes=$(stat -c %s emb.npy)
cat emb.npy labels.npy >/dev/null # page cache
echo "data: $N x $D float32 in $K classes ($(($bytes / 1000000)) MB), $T threads"

timed() { # OUTFILE command...: "seconds peak-kB" of the command in OUTFILE.t
	_o=$1
	shift
	/usr/bin/time -f "%e %M" -o "$_o.t" "$@" >"$_o" 2>"$_o.err" || { cat "$_o.err" >&2; return 1; }
}

rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", (s > 0 ? b / s / 1e9 : 0) }'; }

# Best of three runs for the fast streaming commands.
best() { # OUT command...
	_b=999999
	for _i in 1 2 3; do
		timed "$@" || return 1
		_s=$(cut -d" " -f1 "$1.t")
		_b=$(awk -v a="$_b" -v b="$_s" 'BEGIN { print (b < a ? b : a) }')
	done
	echo "$_b $(cut -d" " -f2 "$1.t")"
}

set -- $(best sum.out resque summarize emb.npy --labels labels.npy -o emb.rqs)
sum_s=$1 sum_kb=$2
ref=$("$PY" "$here/bench_resque.py" sums "$dir")
ref_s=$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$ref")
printf "summarize:        %6.3f s  %s GB/s  peak RSS %d MB | numpy per-class sums %6.3f s  %s GB/s | speed-up x%s\n" \
	"$sum_s" "$(rate "$bytes" "$sum_s")" $((sum_kb / 1024)) "$ref_s" "$(rate "$bytes" "$ref_s")" \
	"$(awk -v a="$ref_s" -v b="$sum_s" 'BEGIN { printf "%.1f", a / b }')"

set -- $(best m2.out resque summarize emb.npy --labels labels.npy --moments 2 -o emb2.rqs)
printf "summarize -m 2:   %6.3f s  %s GB/s  peak RSS %d MB (Gram by dsyrk)\n" "$1" "$(rate "$bytes" "$1")" $(($2 / 1024))

set -- $(best dist.out resque measure dist --old emb.npy:labels.npy --new emb.npy:labels.npy)
printf "measure dist:     %6.3f s  %s GB/s  peak RSS %d MB (both sides from embeddings: %d MB read)\n" \
	"$1" "$(rate $((2 * bytes)) "$1")" $(($2 / 1024)) $((2 * bytes / 1000000))

timed task.out resque measure task --json -e emb.npy -l labels.npy --assignment resque.txt --threads "$T" || exit 1
set -- $(cat task.out.t)
task_s=$1 task_kb=$2
timed sk.out "$PY" "$here/bench_resque.py" task "$dir" || exit 1
set -- $(cat sk.out.t)
sk_wall=$1 sk_kb=$2
sk=$(cat sk.out)
field() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
sk_fit=$(field "$sk" seconds)
same=$(cmp -s resque.txt sklearn.txt && echo identical || echo "DIFFERENT ($(paste -d" " resque.txt sklearn.txt | awk '$1 != $2' | wc -l) rows)")
printf "measure task:     %6.3f s wall  peak RSS %d MB  RESQUE_task %s  ari %s  %s iterations\n" \
	"$task_s" $((task_kb / 1024)) "$(field "$(cat task.out)" value)" "$(field "$(cat task.out)" ari)" \
	"$(field "$(cat task.out)" iterations)"
printf "scikit-learn:     %6.3f s wall (%.3f s centroids+KMeans+ARI, excluding load)  peak RSS %d MB  ari %s  %s iterations\n" \
	"$sk_wall" "$sk_fit" $((sk_kb / 1024)) "$(field "$sk" ari)" "$(field "$sk" iterations)"
printf "task ratio:       sklearn wall / resque wall = x%s, sklearn compute / resque wall = x%s; labels %s\n" \
	"$(awk -v a="$sk_wall" -v b="$task_s" 'BEGIN { printf "%.2f", a / b }')" \
	"$(awk -v a="$sk_fit" -v b="$task_s" 'BEGIN { printf "%.2f", a / b }')" "$same"
