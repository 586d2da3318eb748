#!/bin/sh
# Build every libFuzzer target tests/fuzz/fuzz_NAME.c against the fuzzing
# build of libresque (BUILD, made by `make fuzz`) and run each for SECONDS,
# starting from tests/fuzz/corpus/NAME/ (new inputs go to a scratch copy, so
# the committed seed corpus stays small). Exit status 1 if any target
# crashed; the crashing input is left in tests/fuzz/.
#   sh tests/fuzz/run.sh BUILD SECONDS [NAME-PATTERN]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
build=${1:-build-fuzz}
seconds=${2:-20}
pattern=${3:-}
pkgs="libgit2 sqlite3 libsodium jansson openblas lapacke"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -Iinclude -Icore -Istore -fsanitize=fuzzer,address,undefined"
failed=0
ran=0
for src in tests/fuzz/fuzz_*.c; do
	[ -e "$src" ] || continue
	name=$(basename "$src" .c | sed 's/^fuzz_//')
	case "$name" in *"$pattern"*) ;; *) continue ;; esac
	bin="$build/fuzz/fuzz_$name"
	mkdir -p "$build/fuzz"
	# shellcheck disable=SC2046
	if ! clang $cflags -o "$bin" "$src" "$build/libresque.a" $(pkg-config --cflags --libs $pkgs) -lm -ldl -pthread; then
		echo "fuzz_$name: does not build" >&2
		failed=$((failed + 1))
		continue
	fi
	work="$build/fuzz/corpus-$name"
	rm -rf "$work" && mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	echo "fuzz_$name: ${seconds}s" >&2
	if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="tests/fuzz/" "$work" >"$build/fuzz/fuzz_$name.log" 2>&1; then
		tail -1 "$build/fuzz/fuzz_$name.log" >&2
	else
		echo "fuzz_$name: FAILED (see $build/fuzz/fuzz_$name.log)" >&2
		tail -30 "$build/fuzz/fuzz_$name.log" >&2
		failed=$((failed + 1))
	fi
	ran=$((ran + 1))
done
echo "fuzz: $((ran - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
