#!/bin/sh
# Run every benchmark tests/bench/bench_*.sh in order. Benchmarks print
# measurements and ratios against reference tools; they are not tests and
# never fail on speed. Scratch data goes under $BENCH_DIR (default: a
# temporary directory, removed afterwards).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
export RESQUE_BUILD=${RESQUE_BUILD:-$root/build}
export PATH="$RESQUE_BUILD:$RESQUE_BUILD/helpers:$PATH"
export PY=/usr/bin/python3
own=0
if [ -z "${BENCH_DIR:-}" ]; then
	BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/resque-bench.XXXXXX")
	own=1
fi
export BENCH_DIR
echo "resque benchmarks ($(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
for b in "$root"/tests/bench/bench_*.sh; do
	[ -e "$b" ] || continue
	case "$(basename "$b")" in *"${1:-}"*) ;; *) continue ;; esac
	echo
	echo "== $(basename "$b" .sh)"
	sh "$b" || echo "(benchmark $(basename "$b") failed with status $?)"
done
[ "$own" -eq 1 ] && rm -rf "$BENCH_DIR"
exit 0
