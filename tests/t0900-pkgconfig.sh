#!/bin/sh
# The installed library (issue 12 item 1): `make install DESTDIR= PREFIX=`
# into a scratch directory (the build tree as it is: nothing is rebuilt),
# then a small C program compiled and linked with nothing but
# `pkg-config --cflags --libs --static resque` and including nothing but
# <resque/resque.h> opens a repository made by the resque binary, reads
# its entries, appends one signed by a key of the key store and checks the
# ledger. Exactly the public headers are installed, none includes a
# third-party header, each compiles alone, and a function of the library
# that is not public (not RQ_EXTERN) cannot be linked.
. "$(dirname "$0")/lib.sh"
test_requires PKGCONFIG CC

DEST="$SCRATCH/dest"
PREFIX=/opt/resque
CC=${CC:-cc}
# A sanitized build (make asan) needs its runtime at link time too, and a
# --coverage build (scripts/house-metrics.sh --coverage) libgcov.
SANLINK=
test_have_prereq SANITIZED && SANLINK="-fsanitize=address,undefined"
nm "$RQ_BUILD/libresque.a" 2>/dev/null | grep -q " U __gcov_" && SANLINK="$SANLINK --coverage"

# rq_pkg ARGS...: pkg-config on the staged install (its prefix moved under
# DEST, as for any package installed with DESTDIR).
rq_pkg() {
	PKG_CONFIG_PATH="$DEST$PREFIX/lib/pkgconfig" \
		pkg-config --define-variable=prefix="$DEST$PREFIX" "$@"
}

cat >reader.c <<'CEOF'
/* Uses nothing but the public API (resque/resque.h): opens the repository
 * at argv[1] (its .resque directory), prints how many entries it holds and
 * each entry's seq, type and one-line summary; with a second argument,
 * appends a note of that message signed by the key store's default key;
 * then checks the whole ledger and prints the problems. With `--check`
 * it only checks (a reader would refuse a ledger that fails). */
#include <stdio.h>
#include <string.h>
#include <resque/resque.h>

static void problem(int64_t seq, const char *id, const char *message, void *ctx)
{
	(void)id;
	(void)ctx;
	printf("problem %lld: %s\n", (long long)seq, message);
}

int main(int argc, char **argv)
{
	rq_buf dir = RQ_BUF_INIT, line = RQ_BUF_INIT;
	rq_ledger *l = NULL;
	rq_entry *e = NULL;
	rq_key *k = NULL;
	uint64_t i, n, checked = 0;
	int err, status = 1, check_only;

	if (argc < 2 || argc > 3)
		return 2;
	check_only = argc == 3 && strcmp(argv[2], "--check") == 0;
	if ((err = rq_repo_discover(&dir, argv[1])) || (err = rq_ledger_open(&l, dir.ptr)))
		goto done;
	n = check_only ? 0 : rq_ledger_size(l);
	if (!check_only)
		printf("%llu entries\n", (unsigned long long)n);
	for (i = 0; i < n; i++) {
		if ((err = rq_ledger_get(&e, l, i)))
			goto done;
		rq_buf_release(&line);
		rq_entry_summary(&line, e);
		printf("%llu %s %s\n", (unsigned long long)rq_entry_seq(e), rq_entry_type(e), line.ptr);
		rq_entry_free(e);
		e = NULL;
	}
	if (argc == 3 && !check_only) {
		/* the message is a plain word here: no JSON escaping needed */
		char text[256];
		if (strlen(argv[2]) > 200 || strpbrk(argv[2], "\"\\"))
			return 2;
		snprintf(text, sizeof(text), "{\"message\":\"%s\"}", argv[2]);
		if ((err = rq_keystore_load(&k, NULL, NULL)))
			goto done;
		rq_ledger_set_signer(l, k);
		if ((err = rq_ledger_append_json(&e, l, "note", text, NULL, 0)))
			goto done;
		printf("appended %llu %s signed by %s\n", (unsigned long long)rq_entry_seq(e),
		       rq_entry_id(e), rq_key_id(k));
	}
	err = rq_ledger_check(&checked, l, problem, NULL);
	printf("checked %llu entries: %s\n", (unsigned long long)checked, err ? rq_error_name(err) : "ok");
	if (err)
		goto done;
	status = 0;
done:
	if (status)
		fprintf(stderr, "reader: %s\n", rq_error_last());
	rq_entry_free(e);
	rq_ledger_free(l);
	rq_key_free(k);
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
	for p in libgit2 sqlite3 libsodium jansson zlib; do
		grep -q "^$p\$" req || { say "Requires.private lacks $p"; return 1; }
	done &&
	# OpenBLAS and LAPACKE are loaded with dlopen on first use, not linked
	! grep -q -e "^openblas\$" -e "^lapacke\$" req &&
	libs=$(rq_pkg --libs --static resque) && echo "$libs" >libs &&
	for f in "-L$DEST$PREFIX/lib" -lresque -lgit2 -lsqlite3 -lsodium -ljansson -lz -lm -ldl -pthread; do
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

# The public headers, as docs/ARCHITECTURE.md lists them ("The public API").
PUBLIC="array.h buf.h carbon.h entry.h error.h export.h fingerprint.h forecast.h key.h
keystore.h ledger.h measure.h meter.h repo.h resque.h shard.h sizes.h summary.h version.h"

test_expect_success 'exactly the public headers are installed' '
	(cd "$DEST$PREFIX/include/resque" && ls) >got &&
	for h in $PUBLIC; do echo $h; done | sort >want &&
	compare want got
'

test_expect_success 'no installed header includes a third-party header' '
	! grep -n "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]\(jansson\|sqlite3\|git2\|sodium\|cblas\|lapacke\|zlib\|openblas\)" \
		"$DEST$PREFIX"/include/resque/*.h >third 2>&1 || { cat third; return 1; }
	# and every include among them is a standard header or one of ours
	grep -h "^[[:space:]]*#[[:space:]]*include" "$DEST$PREFIX"/include/resque/*.h |
		grep -v -e "\"resque/[a-z]*\.h\"" -e "<std\(def\|int\|bool\)\.h>" -e "<sys/types\.h>" >other || :
	test ! -s other || { cat other; return 1; }
'

test_expect_success 'resque.h alone compiles without the dependencies'"'"' include paths' '
	printf "#include <resque/resque.h>\nint main(void) { return rq_error_code(); }\n" >umbrella.c &&
	$CC -std=c11 -Wall -Werror -nostdinc -isystem "$($CC -print-file-name=include)" \
		-isystem /usr/include -isystem /usr/include/x86_64-linux-gnu \
		-I"$DEST$PREFIX/include" -c umbrella.c -o umbrella.o 2>cc.err ||
		{ cat cc.err; return 1; }
'

test_expect_success 'a program built with pkg-config only reads, appends to and checks a repository' '
	expect_success resque init proj && (cd proj && resque note -m "hello from pkg-config" >/dev/null) &&
	$CC -std=c11 -Wall -Werror $SANLINK -o reader reader.c $(rq_pkg --cflags --libs --static resque) \
		2>cc.err || { cat cc.err; return 1; }
	expect_success ./reader proj &&
	grep_out "^2 entries$" && grep_out "^1 note hello from pkg-config$" &&
	grep_out "^0 init repository created" && grep_out "^checked 2 entries: ok$" &&
	test "$(wc -l <"$OUT")" = 4 &&
	expect_success ./reader proj appended-by-the-library &&
	grep_out "^appended 2 [0-9a-f]{64} signed by [0-9a-f]{16}$" &&
	grep_out "^checked 3 entries: ok$" &&
	id=$(sed -n "s/^appended 2 \([0-9a-f]*\) .*/\1/p" "$OUT") &&
	signer=$(sed -n "s/^appended 2 .* signed by //p" "$OUT") &&
	(cd proj && expect_success resque log) && grep_out "appended-by-the-library" &&
	(cd proj && expect_success resque verify) &&
	(cd proj && expect_success resque show --json "$id") && grep_out "\"signer\": \"$signer\""
'

test_expect_success 'a program built with pkg-config loads OpenBLAS when it computes a Gram matrix' '
	cat >gram.c <<-\EOF &&
	/* A summary of second moments: the Gram matrix by BLAS dsyrk, which
	 * libresque loads with dlopen (libopenblas.so.0) on first use. */
	#include <stdio.h>
	#include <resque/resque.h>
	int main(void)
	{
		double x[6] = { 1, 2, 3, 4, 5, 6 };
		int64_t y[3] = { 0, 1, 0 };
		rq_summary *s = NULL;
		rq_buf b = RQ_BUF_INIT;
		int err;
		if ((err = rq_summary_new(&s, 2, 2)) || (err = rq_summary_add_f64(s, x, y, 3)) ||
		    (err = rq_summary_encode(&b, s)))
			fprintf(stderr, "gram: %s\n", rq_error_last());
		else
			printf("encoded %zu bytes\n", b.len);
		rq_buf_release(&b);
		rq_summary_free(s);
		return err ? 1 : 0;
	}
	EOF
	$CC -std=c11 -Wall -Werror $SANLINK -o gram gram.c $(rq_pkg --cflags --libs --static resque) \
		2>cc.err || { cat cc.err; return 1; }
	! readelf -d gram | grep "NEEDED.*\(openblas\|lapacke\)" &&
	expect_success ./gram && grep_out "^encoded 176 bytes$" &&
	RESQUE_BLAS_LIB=/nonexistent/libopenblas.so.0 expect_failure 1 ./gram &&
	grep_err "^gram: this computation needs BLAS: /nonexistent/libopenblas.so.0: "
'

test_expect_success 'rq_ledger_check reports an entry signed by a key never added' '
	expect_success resque init forged &&
	RESQUE_HOME="$SCRATCH/stranger" resque key gen >/dev/null &&
	rq-forge forged/.resque "$(ls "$SCRATCH"/stranger/keys/*.key)" "forged" &&
	expect_failure 1 ./reader forged --check &&
	grep_out "^problem 1: .*not a signer of this ledger" &&
	grep_out "^checked 2 entries: integrity violation$" && grep_err "^reader: ."
'

test_expect_success 'the program fails with the library error outside a repository' '
	mkdir -p empty && expect_failure 1 env RESQUE_DIR= ./reader empty && grep_err "^reader: ."
'

test_expect_success 'the installed library exports the public functions only' '
	nm -g --defined-only "$DEST$PREFIX/lib/libresque.a" >syms &&
	for f in rq_ledger_open rq_ledger_append_json rq_ledger_check rq_entry_id rq_key_id rq_error_last; do
		grep -q " T $f\$" syms || { say "libresque.a does not export $f"; return 1; }
	done &&
	for f in rq_ledger_append rq_ledger_verify rq_ledger_db rq_error_set rq_buf_printf rq_entry_parse rq_key_sign; do
		! grep -q " $f\$" syms || { say "libresque.a exports internal $f"; return 1; }
	done
'

test_expect_success 'a program calling an internal function does not link (the check can fail)' '
	cat >internal.c <<-\EOF &&
	#include <resque/resque.h>
	int rq_error_set(int code, const char *fmt, ...);
	int main(void) { return rq_error_set(RQ_EINVALID, "internal"); }
	EOF
	! $CC -std=c11 $SANLINK -o internal internal.c $(rq_pkg --cflags --libs --static resque) 2>cc.err &&
	grep -q "undefined reference to .rq_error_set" cc.err
'

test_expect_success CXX 'a C++ program links the public API (C linkage in the headers)' '
	cat >cxx.cc <<-\EOF &&
	#include <resque/resque.h>
	#include <cstdio>
	int main() { std::printf("%s\n", rq_error_name(RQ_ENOTFOUND)); return 0; }
	EOF
	${CXX:-g++} $SANLINK -o cxx cxx.cc $(rq_pkg --cflags --libs --static resque) 2>cc.err ||
		{ cat cc.err; return 1; }
	expect_success ./cxx && grep_out "^not found$"
'

test_done
