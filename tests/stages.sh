#!/bin/sh
# `make test`, the README's test command (CI runs exactly it): every stage
# in turn, each one's output shown as it runs, then one closing line
# "N passed, N failed[, N skipped]" summing them (the skipped ones from each
# stage's "total: N passed, N failed, N skipped", tests/run's closing line).
#   1. the plain suite (make check): unit tests and tests/t*.sh
#   2. the same suite built with AddressSanitizer + UBSan (make asan)
#   3. every libFuzzer target for FUZZ_SECONDS on its corpus (make fuzz),
#      each target counting as one test
# A stage that ends without its result line (a build failure, a crashed
# runner) or whose make fails counts one more failure. Exit status 1 when
# anything failed.
#   MAKE=make BUILD=build FUZZ_SECONDS=30 sh tests/stages.sh [STAGE...]
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
make=${MAKE:-make}
build=${BUILD:-build}
seconds=${FUZZ_SECONDS:-30}
stages=${*:-plain asan fuzz}
passed=0
failed=0
skipped=0
# Builds in parallel unless the caller chose (make -jN passes a jobserver).
case " ${MAKEFLAGS:-} " in
*--jobserver* | *" -j"*) jobs="" ;;
*) jobs="-j$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)" ;;
esac
log=$(mktemp)
rcf=$(mktemp)
begin=$(date +%s)

for s in $stages; do
	case "$s" in
	# DEVELOPER=1: a warning (-Wall and the Makefile's STRICT_WARN) fails
	# the build, so a change that adds one does not land
	plain) what="the suite" && set -- check BUILD="$build" DEVELOPER=1 ;;
	asan) what="the suite under ASan+UBSan" && set -- asan DEVELOPER=1 ;;
	fuzz) what="each fuzz target for ${seconds}s" && set -- fuzz FUZZ_SECONDS="$seconds" ;;
	*) echo "tests/stages.sh: no stage '$s' (plain, asan, fuzz)" >&2 && exit 2 ;;
	esac
	echo "== $s: $what"
	start=$(date +%s)
	# shellcheck disable=SC2086
	{ $make --no-print-directory $jobs "$@" 2>&1; echo $? >"$rcf"; } | tee "$log"
	rc=$(cat "$rcf")
	line=$(grep -E '^(total|fuzz): [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, .*/\1/')
		f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
		k=$(echo "$line" | sed -E -n 's/.* ([0-9]+) skipped$/\1/p')
		k=${k:-0}
	else
		p=0 f=0 k=0
	fi
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		echo "$s: failed (make exit $rc) before or after its tests" >&2
		f=$((f + 1))
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
	echo "== $s: $p passed, $f failed, $k skipped in $(($(date +%s) - start)) s"
done
rm -f "$log" "$rcf"
echo "== all stages in $(($(date +%s) - begin)) s"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
