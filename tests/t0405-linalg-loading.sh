#!/bin/sh
# BLAS and LAPACKE are loaded with dlopen on first use (core/base/linalg.c,
# issue 16 item 4): resque is not linked with them, a command doing no
# linear algebra never loads them, one that does loads them then, and a
# missing library is an error naming it, with nothing written.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

"$PY" -c '
import numpy as np
r = np.random.default_rng(5)
np.save("e.npy", r.normal(0, 1, (300, 8)).astype(np.float32))
np.save("e-y.npy", r.integers(0, 3, 300).astype(np.int32))
'

# loaded LIB CMD...: whether running CMD made the dynamic linker load a
# file whose name starts with LIB (LD_DEBUG=files lists every object).
loaded() {
	_lib=$1
	shift
	LD_DEBUG=files "$@" >/dev/null 2>ld.out
	grep -q "file=$_lib[^ ]* *\[0\]; *\(needed\|dynamically loaded\)" ld.out
}

test_expect_success 'resque needs neither libopenblas nor liblapacke at start-up' '
	LD_DEBUG=files resque --version >/dev/null 2>ld.out &&
	grep -q "file=libgit2" ld.out &&
	! grep -q -e "file=libopenblas" -e "file=liblapacke" -e "file=libgfortran" ld.out &&
	expect_success resque init proj &&
	(cd proj && ! loaded libopenblas resque log && ! loaded liblapacke resque log)
'

test_expect_success 'a summary of second moments loads libopenblas when it needs it' '
	! loaded libopenblas resque summarize e.npy --labels e-y.npy -o m1.rqs &&
	loaded libopenblas resque summarize e.npy --labels e-y.npy --moments 2 -o m2.rqs &&
	test -s m1.rqs && test -s m2.rqs
'

test_expect_success 'a missing BLAS library is named, and no summary is written' '
	RESQUE_BLAS_LIB=/nonexistent/libopenblas.so.0 &&
	export RESQUE_BLAS_LIB &&
	expect_error 1 "this computation needs BLAS: /nonexistent/libopenblas.so.0: cannot open shared object file" \
		resque summarize e.npy --labels e-y.npy --moments 2 -o bad.rqs &&
	test ! -e bad.rqs &&
	expect_error 1 "RESQUE_BLAS_LIB" resque measure task -e e.npy -l e-y.npy &&
	# what needs no BLAS still works
	expect_success resque summarize e.npy --labels e-y.npy -o m1b.rqs &&
	cmp m1.rqs m1b.rqs &&
	unset RESQUE_BLAS_LIB
'

test_expect_success 'a library without the BLAS functions is refused by name' '
	RESQUE_BLAS_LIB=libz.so.1 expect_error 1 "this computation needs BLAS: libz.so.1 has no function cblas_sgemm" \
		resque summarize e.npy --labels e-y.npy --moments 2 -o bad.rqs &&
	test ! -e bad.rqs
'

test_expect_success 'a missing LAPACKE library is named' '
	printf "0.05 11\n0.12 19.5\n0.2 24\n0.33 41\n" >hist &&
	RESQUE_LAPACKE_LIB=/nonexistent/liblapacke.so.3 expect_error 1 \
		"this computation needs LAPACKE: /nonexistent/liblapacke.so.3: cannot open shared object file" \
		sh -c "rq-stats nig 0 0 0 0 0 -1 0 0.3 <hist" &&
	expect_success sh -c "rq-stats nig 0 0 0 0 0 -1 0 0.3 <hist"
'

test_done
