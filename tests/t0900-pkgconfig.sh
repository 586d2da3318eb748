#!/bin/sh
# The installed library (issue 12 item 1): `make install DESTDIR= PREFIX=`
# into a scratch directory (the build tree as it is: nothing is rebuilt),
# then a small C program compiled and linked with nothing but
# `pkg-config --cflags --libs --static resque` opens a repository made by
# the resque binary and reads its entries through the public API. Every
# installed header must compile on its own with those flags, whichever set
# is installed; a library missing an object must fail to link.
. "$(dirname "$0")/lib.sh"
test_requires PKGCONFIG CC

DEST="$SCRATCH/dest"
PREFIX=/opt/resque
CC=${CC:-cc}
# A sanitized build (make asan) needs its runtime at link time too.
SANLINK=
test_have_prereq SANITIZED && SANLINK="-fsanitize=address,undefined"

# rq_pkg ARGS...: pkg-config on the staged install (its prefix moved under
# DEST, as for any package installed with DESTDIR).
rq_pkg() {
	PKG_CONFIG_PATH="$DEST$PREFIX/lib/pkgconfig" \
		pkg-config --define-variable=prefix="$DEST$PREFIX" "$@"
}

cat >reader.c <<'CEOF'
/* Opens the repository at argv[1] (its .resque directory) and prints how
 * many entries it holds and each entry's one-line summary. */
#include <stdio.h>
#include <stdlib.h>
#include <resque/buf.h>
#include <resque/entry.h>
#include <resque/error.h>
#include <resque/ledger.h>
#include <resque/repo.h>

int main(int argc, char **argv)
{
	rq_buf dir = RQ_BUF_INIT, line = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	uint64_t i, n;
	int err, status = 1;

	if (argc != 2)
		return 2;
	if ((err = rq_repo_discover(&dir, argv[1])) || (err = rq_ledger_open(&l, dir.ptr)) ||
	    (err = rq_ledger_guard(l)))
		goto done;
	n = rq_ledger_size(l);
	printf("%llu entries\n", (unsigned long long)n);
	for (i = 0; i < n; i++) {
		if ((err = rq_ledger_get(&e, l, i)))
			goto done;
		rq_buf_reset(&line);
		rq_entry_summary(&line, e);
		printf("%s\n", line.ptr);
		rq_entry_free(e);
		e = NULL;
	}
	status = 0;
done:
	if (status)
		fprintf(stderr, "reader: %s\n", rq_error_last());
	rq_entry_free(e);
	rq_ledger_free(l);
	rq_buf_release(&line);
	rq_buf_release(&dir);
	return status;
}
CEOF

test_expect_success 'make install DESTDIR PREFIX: binary, library, headers and resque.pc' '
	test -e "$RQ_BUILD/libresque.a" && test -e "$RQ_BUILD/resque" || { say "no build in $RQ_BUILD"; return 1; }
	# -o all: install what is built, never rebuild it with other flags
	make -s -C "$RQ_ROOT" -o all BUILD="$RQ_BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" install \
		>make.out 2>&1 || { cat make.out; return 1; }
	test -x "$DEST$PREFIX/bin/resque" &&
	test -s "$DEST$PREFIX/lib/libresque.a" &&
	test -s "$DEST$PREFIX/lib/pkgconfig/resque.pc" &&
	ls "$DEST$PREFIX/include/resque/" | grep -q "\.h$" &&
	grep -q "^prefix=$PREFIX$" "$DEST$PREFIX/lib/pkgconfig/resque.pc"
'

test_expect_success 'resque.pc: the version of version.h, the private dependencies' '
	want=$(sed -n "s/^#define RQ_VERSION \"\(.*\)\"/\1/p" "$RQ_ROOT/include/resque/version.h") &&
	got=$(rq_pkg --modversion resque) &&
	{ test -n "$want" && test "$got" = "$want" || { say "version $got, want $want"; return 1; }; } &&
	expect_success "$DEST$PREFIX/bin/resque" --version && grep_out "^resque $want\$" &&
	rq_pkg --print-requires-private resque >req &&
	for p in libgit2 sqlite3 libsodium jansson openblas lapacke zlib; do
		grep -q "^$p\$" req || { say "Requires.private lacks $p"; return 1; }
	done &&
	libs=$(rq_pkg --libs --static resque) && echo "$libs" >libs &&
	for f in "-L$DEST$PREFIX/lib" -lresque -lgit2 -lsqlite3 -lsodium -ljansson -lopenblas -llapacke -lz -lm -ldl -pthread; do
		grep -q -e " $f\( \|\$\)" -e "^$f " libs || { say "pkg-config --static --libs lacks $f: $libs"; return 1; }
	done &&
	# without --static: the library alone
	test "$(echo $(rq_pkg --libs resque))" = "-L$DEST$PREFIX/lib -lresque"
'

test_expect_success 'every installed header compiles alone with pkg-config --cflags' '
	cflags=$(rq_pkg --cflags --static resque) &&
	for h in "$DEST$PREFIX"/include/resque/*.h; do
		printf "#include <resque/%s>\n#include <resque/%s>\nint main(void) { return 0; }\n" \
			"${h##*/}" "${h##*/}" >one.c &&
		$CC -std=c11 -Wall -Werror $cflags -c one.c -o one.o 2>one.err ||
			{ say "resque/${h##*/} does not compile alone:"; cat one.err; return 1; }
	done
'

test_expect_success 'a program built with pkg-config only reads a repository made by resque' '
	expect_success resque init proj && (cd proj && resque note -m "hello from pkg-config" >/dev/null) &&
	$CC -std=c11 -Wall -Werror $SANLINK -o reader reader.c $(rq_pkg --cflags --libs --static resque) \
		2>cc.err || { cat cc.err; return 1; }
	expect_success ./reader proj &&
	grep_out "^2 entries$" && grep_out "^hello from pkg-config$" &&
	grep_out "^repository created" && test "$(wc -l <"$OUT")" = 3
'

test_expect_success 'the program fails with the library error outside a repository' '
	mkdir -p empty && expect_failure 1 env RESQUE_DIR= ./reader empty && grep_err "^reader: ."
'

test_expect_success 'a library missing an object does not link (the check can fail)' '
	cp -r "$DEST" broken && obj=$(ar t broken$PREFIX/lib/libresque.a | grep "^ledger\.o$") &&
	ar d broken$PREFIX/lib/libresque.a "$obj" &&
	! $CC -std=c11 $SANLINK -o reader2 reader.c $(DEST="$SCRATCH/broken" rq_pkg --cflags --libs --static resque) 2>cc.err &&
	grep -q "undefined reference" cc.err
'

test_done
