#!/bin/sh
# The measures issue 12 asks for before and after the restructuring, as a
# markdown report on stdout: the ten largest functions, the public headers and
# the functions they declare, the symbols libresque.a exports, the warnings
# each added flag reports, `duplicates` pairs and, with --coverage, line
# coverage per source folder (builds with --coverage and runs the whole suite:
# ~15 min on a loaded machine).
# usage: sh scripts/house-metrics.sh [--coverage] [TREE]   (TREE: default .)
# Builds only in temporary folders (removed at the end); never writes in TREE
# except what `make BUILD=/tmp/...` and the suite write under that build dir.
set -u
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
cov=0
tree=.
for a in "$@"; do
	case "$a" in
	--coverage) cov=1 ;;
	-*) echo "usage: $0 [--coverage] [TREE]" >&2; exit 2 ;;
	*) tree=$a ;;
	esac
done
cd "$tree" || exit 2
tmp=$(mktemp -d /tmp/house-metrics.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
jobs=2

srcs=$(find core store cmd -name '*.c' | LC_ALL=C sort)

echo "# house metrics: $(pwd)"
echo
rev=$(git rev-parse --short HEAD 2>/dev/null) && {
	dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
	echo "commit $rev, $dirty tracked files changed; $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
}

echo "## 1. Ten largest functions"
echo
echo "scripts/function-sizes.py (the copy beside this script) on every .c under core/ store/ cmd/ ($(echo "$srcs" | wc -l) files):"
echo
echo '```'
$py "$here/function-sizes.py" -n 10 $srcs
echo '```'
over=$($py "$here/function-sizes.py" --over 80 $srcs | wc -l)
echo
echo "Functions over 80 lines: $over."
echo

echo "## 2. Public headers"
echo
hdrs=$(find include/resque -name '*.h' | LC_ALL=C sort)
set -- $($py "$here/house-metrics.py" protos $hdrs)
echo "- headers under include/resque/ (recursively): $(echo "$hdrs" | grep -c .)"
echo "- functions declared in them: $1 prototypes (+ $2 inline definitions)"
echo
echo "Counted by house-metrics.py protos: comments, strings and preprocessor lines"
echo "removed, then every top-level declaration (outside braces, ending in ';', not a"
echo "typedef, no '=') with a NAME( declarator and no (*NAME) is one prototype; a"
echo "top-level NAME(...) followed by a body is an inline definition."
echo

echo "## 3. Exported symbols of libresque.a"
echo
# Only the objects: the library is all the symbol count needs, and the
# sources' own warnings/-Werror are not this script's business.
if nice -n 10 make -s -j$jobs BUILD="$tmp/build" all >"$tmp/build.log" 2>&1; then
	nm -g --defined-only "$tmp/build/libresque.a" >"$tmp/nm.txt"
	n=$(awk '$2 ~ /[TDBR]/' "$tmp/nm.txt" | wc -l)
	nrq=$(awk '$2 ~ /[TDBR]/ && $3 !~ /^rq_/' "$tmp/nm.txt" | wc -l)
	echo "- \`nm -g --defined-only libresque.a | awk '\$2 ~ /[TDBR]/'\`: **$n** symbols"
	echo "  (types T text, D data, B bss, R read-only; of them $nrq not named rq_*)"
	echo "- all lines of that nm with a type letter (any): $(awk 'NF == 3' "$tmp/nm.txt" | wc -l)"
	echo "- built with \`make -j$jobs BUILD=<tmp> all\` (the Makefile's default flags)"
else
	echo "build FAILED (make BUILD=<tmp> all); last lines:"
	echo '```'
	tail -15 "$tmp/build.log"
	echo '```'
fi
echo

echo "## 4. Warnings per flag"
echo
# Every folder under core/ store/ cmd/ holding a header, and the Makefile's
# own -I flags (whatever it grows), beside the fixed ones.
incs="-Iinclude -Icore -Istore -Icmd"
for d in $(find core store cmd -name '*.h' -exec dirname {} \; | LC_ALL=C sort -u); do
	incs="$incs -I$d"
done
mkincs=$(make -s --no-print-directory --eval 'house-metrics-print: ; @echo $(ALL_CFLAGS)' house-metrics-print 2>/dev/null |
	tr ' ' '\n' | grep '^-I[^/]' | tr '\n' ' ')
incs=$(echo $incs $mkincs | tr ' ' '\n' | awk '!seen[$0]++' | tr '\n' ' ')
pkgs=$(pkg-config --cflags libgit2 sqlite3 libsodium jansson openblas lapacke zlib)
base="-std=c11 -D_GNU_SOURCE $incs -pthread $pkgs"
flags="-Wextra -Wshadow -Wconversion -Wwrite-strings -Wcast-qual"
mkdir -p "$tmp/warn"
for f in -Wall $flags; do
	extra=$f
	[ "$f" = -Wall ] && extra=
	# shellcheck disable=SC2086
	echo "$srcs" | nice -n 10 xargs -P $jobs -n 4 sh -c \
		'for s; do gcc '"$base"' -Wall '"$extra"' -fsyntax-only "$s" 2>&1; done' sh \
		>"$tmp/warn/$f.log"
done
echo "Each flag alone on top of -Wall, every .c under core/ store/ cmd/, -fsyntax-only, with"
echo "\`gcc $(echo "-std=c11 -D_GNU_SOURCE $incs" | tr -s ' ') -pthread \$(pkg-config --cflags ...)\`."
echo "(-fsyntax-only: the warnings gcc gives only when optimizing, e.g. -Wmaybe-uninitialized,"
echo "-Wformat-truncation, are not counted.) A warning is counted once per (file:line:col, tag) (a header's warning counts once"
echo "however many files include it). -Wextra: every warning of the -Wall -Wextra run"
echo "that the -Wall run has not (its tags are the flags -Wextra enables)."
echo
$py "$here/house-metrics.py" warnings "$tmp/warn" $flags
echo

echo "## 5. duplicates pairs"
echo
# duplicates reads one folder: copy there what git tracks (and untracked,
# not ignored, files) of the folders measured, so build dirs do not count.
dupcopy() { # dest folder...
	dest=$1
	shift
	mkdir -p "$dest"
	if git rev-parse --git-dir >/dev/null 2>&1; then
		{ git ls-files -- "$@"; git ls-files -o --exclude-standard -- "$@"; } |
			while read -r p; do [ -f "$p" ] && echo "$p"; done |
			tar -cf - -T - | tar -xf - -C "$dest"
	else
		cp -r "$@" "$dest"/
	fi
}
dupcopy "$tmp/dup-all" core store cmd include tests
dupcopy "$tmp/dup-src" core store cmd include
duplicates --repo "$tmp/dup-all" --most 200 --seconds 300 >"$tmp/dup-all.txt" 2>&1
duplicates --repo "$tmp/dup-src" --most 200 --seconds 300 >"$tmp/dup-src.txt" 2>&1
ball=$(grep -c '^D[0-9]' "$tmp/dup-all.txt")
bsrc=$(grep -c '^D[0-9]' "$tmp/dup-src.txt")
echo "\`duplicates --repo <copy> --most 200\` (default --min-lines 6) on a copy of the"
echo "tracked files of the folders named:"
echo
echo "- core store cmd include tests: $(head -1 "$tmp/dup-all.txt")  [rows marked boilerplate: $(grep '^D[0-9]' "$tmp/dup-all.txt" | grep -c boilerplate) of $ball]"
echo "- core store cmd include (tests/ left out): $(head -1 "$tmp/dup-src.txt")  [boilerplate: $(grep '^D[0-9]' "$tmp/dup-src.txt" | grep -c boilerplate) of $bsrc]"
grep -E '^(incomplete|left out|\(\+)' "$tmp/dup-all.txt" | sed 's/^/  - with tests: /'
grep -E '^(incomplete|left out|\(\+)' "$tmp/dup-src.txt" | sed 's/^/  - without tests: /'
echo
echo "Pairs outside tests/, most shared first:"
echo
echo '```'
grep '^D[0-9]' "$tmp/dup-src.txt" | sed 's,'"$tmp"'/dup-src/,,g' | head -25
[ "$bsrc" -gt 25 ] && echo "... ($((bsrc - 25)) more rows)"
echo '```'
echo

echo "## 6. Line coverage per folder"
echo
if [ $cov = 0 ]; then
	echo "not measured (pass --coverage)."
	exit 0
fi
# HOUSE_COV_BUILD=DIR keeps the coverage build there; a DIR whose suite has
# already run (DIR/suite.log) is measured again without building nor running.
cb=${HOUSE_COV_BUILD:-$tmp/cov}
case "$cb" in /*) ;; *) cb=$(pwd)/$cb ;; esac
if [ ! -f "$cb/suite.log" ]; then
	helpers=$(ls tests/helpers/*.c | sed 's,tests/helpers/\(.*\)\.c,'"$cb"'/helpers/\1,')
	if ! nice -n 10 make -s -j$jobs BUILD="$cb" CFLAGS="-O0 -g --coverage" all "$cb/unit-tests" $helpers \
		"$cb/helpers/rq-fail.so" >"$tmp/covbuild.log" 2>&1; then
		echo "coverage build FAILED; last lines:"
		echo '```'
		tail -15 "$tmp/covbuild.log"
		echo '```'
		exit 1
	fi
	RESQUE_BUILD="$cb" nice -n 10 sh tests/run >"$cb/suite.log.part" 2>&1
	mv "$cb/suite.log.part" "$cb/suite.log"
fi
echo "Built with \`make BUILD=<tmp> CFLAGS=\"-O0 -g --coverage\" all unit-tests helpers\`, then"
echo "\`RESQUE_BUILD=<tmp> nice -n 10 sh tests/run\` (the whole suite) — $(tail -1 "$cb/suite.log")."
echo "gcov -j on every object of core/ store/ cmd/ (one not linked counts as 0 %); a line"
echo "is run if any object ran it; lines of headers under those folders count in theirs."
echo
$py "$here/house-metrics.py" coverage "$cb"
grep -q 'total: .* 0 failed' "$cb/suite.log" || {
	echo
	echo "Suite failures:"
	echo '```'
	grep -E 'not ok|FAIL|no result' "$cb/suite.log" | head -20
	echo '```'
}
