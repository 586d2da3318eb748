#!/bin/sh
# Build every libFuzzer target tests/fuzz/fuzz_NAME.c against the fuzzing
# build of libresque (BUILD, made by `make fuzz`) and run each for SECONDS,
# starting from tests/fuzz/corpus/NAME/ (new inputs go to a scratch copy, so
# the committed seed corpus stays small) with a fixed seed (FUZZ_SEED,
# default 1), so that a run can be repeated. Each target counts as one test:
# it fails when it does not build, or when libFuzzer found a crash, a leak,
# a sanitizer report or a timeout; the crashing input is kept under
# BUILD/fuzz/artifacts/ and its path printed (reproduce with
# BUILD/fuzz/fuzz_NAME PATH). Closes with "fuzz: N passed, N failed"; exit
# status 1 if any target failed. Targets run FUZZ_JOBS at a time (default:
# one a core).
#   sh tests/fuzz/run.sh BUILD SECONDS [NAME-PATTERN]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
build=${1:-build-fuzz}
seconds=${2:-20}
pattern=${3:-}
# OpenBLAS and LAPACKE are loaded with dlopen when used (core/base/linalg.c)
pkgs="libgit2 sqlite3 libsodium jansson zlib"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -Iinclude $(find core store -type d | sed "s,^,-I," | tr "\n" " ")-fsanitize=fuzzer,address,undefined"
seed=${FUZZ_SEED:-1}
# targets run side by side, one a core (FUZZ_JOBS to choose)
jobs=${FUZZ_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
mkdir -p "$build/fuzz"

# fuzz_one NAME: build and run one target; its verdict in fuzz_NAME.result.
fuzz_one() {
	name=$1
	src="tests/fuzz/fuzz_$name.c"
	bin="$build/fuzz/fuzz_$name"
	res="$build/fuzz/fuzz_$name.result"
	echo fail >"$res"
	# shellcheck disable=SC2046
	if ! clang $cflags -o "$bin" "$src" "$build/libresque-internal.a" $(pkg-config --cflags --libs $pkgs) -lm -ldl -pthread; then
		echo "fuzz_$name: does not build" >&2
		return
	fi
	work="$build/fuzz/corpus-$name"
	rm -rf "$work" && mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	art="$build/fuzz/artifacts/$name"
	rm -rf "$art" && mkdir -p "$art"
	echo "fuzz_$name: ${seconds}s, seed $seed" >&2
	if "$bin" -max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$art/" "$work" >"$build/fuzz/fuzz_$name.log" 2>&1 &&
		[ -z "$(ls -A "$art")" ]; then
		echo "fuzz_$name: $(tail -1 "$build/fuzz/fuzz_$name.log")" >&2
		echo pass >"$res"
	else
		{
			echo "fuzz_$name: FAILED (see $build/fuzz/fuzz_$name.log)"
			tail -30 "$build/fuzz/fuzz_$name.log" | sed "s/^/fuzz_$name: /"
			for f in "$art"/*; do
				[ -e "$f" ] && echo "fuzz_$name: crashing input: $f (reproduce: $bin $f)"
			done
		} >&2
	fi
}

names=""
for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c | sed 's/^fuzz_//')
	case "$name" in *"$pattern"*) ;; *) continue ;; esac
	names="$names $name"
done
running=0
for name in $names; do
	fuzz_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait
passed=0
failed=0
for name in $names; do
	if [ "$(cat "$build/fuzz/fuzz_$name.result" 2>/dev/null)" = pass ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
