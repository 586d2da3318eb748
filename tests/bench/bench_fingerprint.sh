#!/bin/sh
# Fingerprint throughput against b2sum and sha256sum (docs/PERFORMANCE.md): one large
# file from the page cache, a tree of many small files, and the re-scan of
# that unchanged tree with the stat cache inside a repository. Prints
# seconds, throughput and ratios; never fails on speed.
#   BENCH_FP_MB     size of the large file in MiB (default 1024)
#   BENCH_FP_FILES  number of small files (default 10000)
set -u
: "${BENCH_DIR:?run through tests/bench/run.sh}"
mb=${BENCH_FP_MB:-1024}
nfiles=${BENCH_FP_FILES:-10000}
cores=$(nproc)
dir=$BENCH_DIR/fingerprint
mkdir -p "$dir"
export RESQUE_HOME="$dir/home"
unset RESQUE_DIR

now() { date +%s.%N; }
# best of N runs of a command (stdout discarded): "WALL CPU" in seconds,
# CPU = user + system of the command and its children (GNU time if present)
best() {
	n=$1
	shift
	b=
	for _ in $(seq "$n"); do
		timer=
		[ -x /usr/bin/time ] && timer="/usr/bin/time -f %U+%S -o $dir/.time"
		echo NaN >"$dir/.time"
		t0=$(now)
		$timer "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; echo "NaN NaN"; return; }
		t1=$(now)
		r=$(echo "$t0 $t1 $(tail -1 "$dir/.time")" | awk '{split($3, c, "+"); print $2 - $1, c[1] + c[2]}')
		b=$(echo "$r ${b:-}" | awk '{if ($3 == "" || $1 < $3) print $1, $2; else print $3, $4}')
	done
	echo "$b"
}
row() { # label "wall cpu" bytes "reference-wall reference-cpu"
	awk -v l="$1" -v s="$2" -v b="$3" -v r="$4" 'BEGIN {
		split(s, a, " "); split(r, c, " ")
		printf "  %-44s %7.3f s %8.1f MB/s  x%-5.2f  cpu %6.3f s  x%.2f\n", l, a[1], b / a[1] / 1e6,
			a[1] / c[1], a[2], a[2] / c[2] }'
}

echo "fingerprint: $mb MiB file, $nfiles small files, $cores cores (x = time / reference time, lower is better; cpu = user + system)"

# ---- one large file -------------------------------------------------------
big=$dir/big.bin
head -c $((mb * 1048576)) /dev/urandom >"$big"
cat "$big" >/dev/null # into the page cache
bytes=$((mb * 1048576))
t_b2=$(best 3 b2sum -l 256 "$big")
t_rq=$(best 3 resque fingerprint "$big")
t_sha=$(best 3 sha256sum "$big")
if [ "$(resque fingerprint "$big" | cut -c4-67)" != "$(b2sum -l 256 "$big" | cut -d' ' -f1)" ]; then
	echo "  MISMATCH between resque fingerprint and b2sum -l 256" >&2
fi
echo " one ${mb} MiB file (page cache; reference: b2sum -l 256)"
row "b2sum -l 256" "$t_b2" "$bytes" "$t_b2"
row "resque fingerprint (1 thread per file)" "$t_rq" "$bytes" "$t_b2"
row "sha256sum" "$t_sha" "$bytes" "$t_b2"
rm -f "$big"

# ---- many small files ------------------------------------------------------
mkdir -p "$dir/repo"
(cd "$dir/repo" && resque init . >/dev/null 2>&1) || echo "  resque init failed" >&2
tree=$dir/repo/tree
"${PY:-/usr/bin/python3}" - "$tree" "$nfiles" <<'PYEOF'
import os, sys, random
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1)
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(rnd.randint(1, 16384)))
PYEOF
# Age the files so that the stat cache's racily-clean rule trusts them.
find "$tree" -exec touch -d "@$(($(date +%s) - 60))" {} +
tbytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
find "$tree" -type f >/dev/null
cat $(find "$tree" -type f | head -2000) >/dev/null
echo " $nfiles small files, $(awk -v b="$tbytes" 'BEGIN {printf "%.1f MB", b / 1e6}') (page cache; reference: find | xargs b2sum)"
t_x=$(best 3 sh -c "find '$tree' -type f -print0 | xargs -0 b2sum -l 256")
t_xp=$(best 3 sh -c "find '$tree' -type f -print0 | xargs -0 -n 500 -P $cores b2sum -l 256")
t_xs=$(best 3 sh -c "find '$tree' -type f -print0 | xargs -0 sha256sum")
t_r=$(best 3 sh -c "cd '$dir/repo' && resque fingerprint --rehash tree")
t_r1=$(best 3 env -u RESQUE_DIR sh -c "cd '$dir' && resque fingerprint '$tree'") # outside: no cache
row "find | xargs b2sum -l 256" "$t_x" "$tbytes" "$t_x"
row "find | xargs -P $cores b2sum -l 256" "$t_xp" "$tbytes" "$t_x"
row "find | xargs sha256sum" "$t_xs" "$tbytes" "$t_x"
row "resque fingerprint, no cache ($cores threads)" "$t_r1" "$tbytes" "$t_x"
row "resque fingerprint --rehash (and cache write)" "$t_r" "$tbytes" "$t_x"

# ---- re-scan of the unchanged tree ------------------------------------------
(cd "$dir/repo" && resque fingerprint tree >/dev/null)
t_c=$(best 5 sh -c "cd '$dir/repo' && resque fingerprint tree")
(cd "$dir/repo" && resque dataset add tree >/dev/null 2>&1) || echo "  dataset add failed" >&2
t_s=$(best 5 sh -c "cd '$dir/repo' && resque dataset status tree")
echo " re-scan of the unchanged tree with the stat cache (goal: < 0.2 s)"
row "resque fingerprint (stat cache)" "$t_c" "$tbytes" "$t_x"
row "resque dataset status (stat cache)" "$t_s" "$tbytes" "$t_x"
rm -rf "$dir"
