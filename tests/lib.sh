# Shared helpers of the end-to-end tests (after git's t/test-lib.sh).
# A test script sources this file, calls test_expect_success for each case
# and ends with test_done. Each script runs in a fresh scratch directory
# with its own RESQUE_HOME, so no test sees another's keys or repositories.
#
#   test_expect_success 'what it checks' '
#       expect_success resque init &&
#       grep -q genesis "$OUT"
#   '
#   expect_success CMD...      runs CMD; stdout in $OUT, stderr in $ERR
#   expect_failure N CMD...    CMD must exit with status N (a crash or a
#                              sanitizer report never counts as N)
#   compare EXPECTED ACTUAL    files must be equal (diff shown otherwise)
#   repo_state DIR             prints what must not change on bad input
#   test_skip DESC REASON      a case that cannot run here: reported, not passed
#   test_at_end CMD            CMD runs when the script ends, even early
#                              (tests/lib-remote.sh stops its git servers so)
#
# Prerequisites (after git's test_have_prereq): a case that needs something
# optional names it before its description, several joined by commas:
#   test_expect_success NUMPY,SKLEARN 'labels as sklearn' '...'
# and a script whose every case needs it says so once, after sourcing this:
#   test_requires CHROMIUM PIL
# A missing prerequisite makes the case a skip, counted and reported with
# the reason ("skip - t0860-report-html: ... (missing CHROMIUM: ...)"),
# never a silent pass nor a failure. The known ones are the test_lazy_prereq
# lines below (probed once, on first use); test_set_prereq NAME declares
# one found true by the script itself, test_have_prereq NAME tests one.
#
# Every script ends in one result line "NAME: N passed, N failed, N
# skipped"; a script that exits before test_done (an `exit` in a body, a
# `set -e` surprise) still prints one, with one more failure.
#
# Bodies run in the test script's shell (variables persist; use `return 1`,
# never `exit`), and each test starts in the directory the previous one
# started in: a `cd` inside a body lasts for that body only.

set -u
TEST_NAME=$(basename "$0" .sh)
RQ_ROOT=$(cd "$(dirname "$0")/.." && pwd)
RQ_BUILD=${RESQUE_BUILD:-$RQ_ROOT/build}
PATH="$RQ_BUILD:$RQ_BUILD/helpers:$PATH"
export PATH
PY=/usr/bin/python3

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/resque-$TEST_NAME.XXXXXX")
HOME="$SCRATCH/home"
RESQUE_HOME="$HOME/.config/resque"
mkdir -p "$HOME"
export HOME RESQUE_HOME
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_EVENTS RESQUE_NOW RESQUE_CPU_WATTS
# git settings of the machine that change what a transport trusts
unset GIT_SSL_CAINFO GIT_SSL_CAPATH SSH_AUTH_SOCK GIT_ASKPASS SSH_ASKPASS
# Sanitizer reports must not look like an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:detect_leaks=1"
# leaks of the libraries resque cannot free (tests/lsan.supp says which)
export LSAN_OPTIONS="suppressions=$RQ_ROOT/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:exitcode=98:print_stacktrace=1"
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@example.org \
	GIT_COMMITTER_NAME=test GIT_COMMITTER_EMAIL=test@example.org
OUT="$SCRATCH/.stdout"
ERR="$SCRATCH/.stderr"
cd "$SCRATCH" || exit 1

test_passed=0
test_failed=0
test_skipped=0

say() { printf '%s\n' "$*" >&2; }

_test_body() {
	eval "$_body"
}

# ---- prerequisites ----
_prereq_yes=" "
_prereq_no=" "
_prereq_lazy=" "
_prereq_all=""
_prereq_missing=""

# test_lazy_prereq NAME 'probe' 'what to install': NAME holds when the probe
# (run once, in a subshell, output discarded) succeeds.
test_lazy_prereq() {
	_prereq_lazy="$_prereq_lazy$1 "
	eval "_prereq_probe_$1=\$2"
	eval "_prereq_hint_$1=\$3"
}

# test_set_prereq NAME: the script found NAME true.
test_set_prereq() {
	_prereq_yes="$_prereq_yes$1 "
}

_prereq_one() { # NAME: 0 if it holds (probing a lazy one once)
	case "$_prereq_yes" in *" $1 "*) return 0 ;; esac
	case "$_prereq_no" in *" $1 "*) return 1 ;; esac
	case "$_prereq_lazy" in
	*" $1 "*)
		eval "_probe=\$_prereq_probe_$1"
		if (eval "$_probe") >/dev/null 2>&1; then
			_prereq_yes="$_prereq_yes$1 "
			return 0
		fi
		;;
	esac
	_prereq_no="$_prereq_no$1 "
	return 1
}

# test_have_prereq NAME[,NAME...] (a leading ! negates one): whether all
# hold; the first missing one's name and hint in $_prereq_missing.
test_have_prereq() {
	_prereq_missing=""
	_save_ifs=$IFS
	IFS=,
	set -- $1
	IFS=$_save_ifs
	for _p in "$@"; do
		[ -z "$_p" ] && continue
		case "$_p" in
		!*)
			if _prereq_one "${_p#!}"; then
				_prereq_missing="$_p: ${_p#!} is there"
				return 1
			fi
			;;
		*)
			if ! _prereq_one "$_p"; then
				eval "_hint=\${_prereq_hint_$_p:-}"
				# a probe may leave why it failed in $SCRATCH/.why-NAME
				[ -s "$SCRATCH/.why-$_p" ] && _hint="$_hint; $(head -n 1 "$SCRATCH/.why-$_p")"
				_prereq_missing="missing $_p${_hint:+: $_hint}"
				return 1
			fi
			;;
		esac
	done
	return 0
}

# test_requires NAME...: every later case of the script needs these.
test_requires() {
	for _p in "$@"; do
		_prereq_all="${_prereq_all:+$_prereq_all,}$_p"
	done
}

# What the suite knows how to probe, with the Debian package to install
# (sh scripts/install-deps.sh installs them all).
test_lazy_prereq PYTHON3 '"$PY" -c "import json"' 'python3 (apt-get install python3)'
test_lazy_prereq NUMPY '"$PY" -c "import numpy"' 'python3-numpy (apt-get install python3-numpy)'
test_lazy_prereq SCIPY '"$PY" -c "import scipy"' 'python3-scipy (apt-get install python3-scipy)'
test_lazy_prereq SKLEARN '"$PY" -c "import sklearn"' 'python3-sklearn (apt-get install python3-sklearn)'
test_lazy_prereq CRYPTOGRAPHY '"$PY" -c "import cryptography"' 'python3-cryptography (apt-get install python3-cryptography)'
test_lazy_prereq PIL '"$PY" -c "import PIL"' 'python3-pil (apt-get install python3-pil)'
test_lazy_prereq CHROMIUM 'command -v "${CHROMIUM:-chromium}"' 'chromium (apt-get install chromium)'
test_lazy_prereq SQLITE3 'command -v sqlite3' 'the sqlite3 CLI (apt-get install sqlite3)'
test_lazy_prereq GIT 'command -v git' 'git (apt-get install git)'
test_lazy_prereq FLOCK 'command -v flock' 'flock(1) (apt-get install util-linux)'
test_lazy_prereq TIMEOUT 'command -v timeout' 'timeout(1) (apt-get install coreutils)'
test_lazy_prereq B2SUM 'command -v b2sum' 'b2sum(1) (apt-get install coreutils)'
test_lazy_prereq SCRIPT 'command -v script' 'script(1) (apt-get install bsdutils)'
test_lazy_prereq STRACE 'strace -f -e inject=rename:signal=KILL -e trace=rename true' \
	'strace with fault injection (apt-get install strace)'
test_lazy_prereq VALGRIND 'command -v valgrind' 'valgrind (apt-get install valgrind)'
test_lazy_prereq PKGCONFIG 'command -v pkg-config' 'pkg-config (apt-get install pkg-config)'
test_lazy_prereq CC 'command -v "${CC:-cc}"' 'a C compiler (apt-get install gcc)'
test_lazy_prereq CXX 'command -v "${CXX:-g++}"' 'a C++ compiler (apt-get install g++)'
test_lazy_prereq ROOT 'test "$(id -u)" = 0' 'root'
test_lazy_prereq FAULT_SHIM 'test -e "$RQ_BUILD/helpers/rq-fail.so"' \
	"$RQ_BUILD/helpers/rq-fail.so (make $RQ_BUILD/helpers/rq-fail.so)"
# Built with a sanitizer (make asan): the runtime reports, exit 99/98.
test_lazy_prereq SANITIZED 'nm "$RQ_BUILD/resque" | grep -q __asan_init' 'a sanitizer build (make asan)'

# test_expect_success [PREREQ] 'what it checks' 'body'
test_expect_success() {
	_need=$_prereq_all
	if [ $# -ge 3 ]; then
		_need="${_need:+$_need,}$1"
		shift
	fi
	_desc=$1
	_body=$2
	if [ -n "$_need" ] && ! test_have_prereq "$_need"; then
		test_skip "$_desc" "$_prereq_missing"
		return 0
	fi
	_here=$(pwd)
	# Through a function, so that `return 1` in a body (or in a loop of
	# it) ends the body and counts as a failure, not a silent exit.
	if _test_body >"$SCRATCH/.log" 2>&1; then
		test_passed=$((test_passed + 1))
		[ -n "${TEST_VERBOSE:-}" ] && say "ok - $_desc"
	else
		test_failed=$((test_failed + 1))
		say "not ok - $TEST_NAME: $_desc"
		sed 's/^/    /' "$SCRATCH/.log" >&2
	fi
	cd "$_here" || exit 1
}

# test_skip 'what it checks' 'why it cannot run here' (a missing tool, after
# git's test_have_prereq): says so, and counts as neither passed nor failed.
test_skip() {
	test_skipped=$((test_skipped + 1))
	say "skip - $TEST_NAME: $1 ($2)"
}

crashed() { # status
	[ "$1" -ge 98 ] && [ "$1" -ne 127 ]
}

expect_success() {
	"$@" >"$OUT" 2>"$ERR"
	_rc=$?
	if [ "$_rc" -ne 0 ]; then
		say "expected success, got exit $_rc: $*"
		sed 's/^/  stderr: /' "$ERR" >&2
		return 1
	fi
	return 0
}

expect_failure() { # status command...
	_want=$1
	shift
	"$@" >"$OUT" 2>"$ERR"
	_rc=$?
	if crashed "$_rc" || grep -q -e 'Sanitizer' -e 'runtime error' "$ERR"; then
		say "crashed (exit $_rc): $*"
		sed 's/^/  stderr: /' "$ERR" >&2
		return 1
	fi
	if [ "$_rc" -ne "$_want" ]; then
		say "expected exit $_want, got $_rc: $*"
		sed 's/^/  stderr: /' "$ERR" >&2
		return 1
	fi
	return 0
}

# expect_error STATUS 'message fragment' command...: fails with STATUS and
# says the fragment on stderr.
expect_error() {
	_want=$1
	_msg=$2
	shift 2
	expect_failure "$_want" "$@" || return 1
	if ! grep -q -F -e "$_msg" "$ERR"; then
		say "stderr lacks '$_msg': $*"
		sed 's/^/  stderr: /' "$ERR" >&2
		return 1
	fi
}

compare() {
	if ! cmp -s "$1" "$2"; then
		say "files differ: $1 $2"
		diff -u "$1" "$2" >&2
		return 1
	fi
}

# grep_out PATTERN: $OUT must match the extended regex.
grep_out() {
	grep -q -E -e "$1" "$OUT" || { say "stdout lacks /$1/:"; sed 's/^/  stdout: /' "$OUT" >&2; return 1; }
}
grep_err() {
	grep -q -E -e "$1" "$ERR" || { say "stderr lacks /$1/:"; sed 's/^/  stderr: /' "$ERR" >&2; return 1; }
}

# limited CMD...: CMD bounded in time (RQ_LIMIT seconds, default 120) when
# timeout(1) is there: a hung transport or command is a failure, not a hung
# suite.
limited() {
	if command -v timeout >/dev/null 2>&1; then
		timeout "${RQ_LIMIT:-120}" "$@"
	else
		"$@"
	fi
}

# unchanged_after STATUS MESSAGE CMD...: CMD fails with STATUS saying
# MESSAGE, the repository is as it was, and it verifies
# (run without the fault shim).
unchanged_after() {
	repo_state >"$SCRATCH/state.before" &&
	expect_error "$@" &&
	repo_state >"$SCRATCH/state.after" &&
	compare "$SCRATCH/state.before" "$SCRATCH/state.after" &&
	{ resque verify >"$SCRATCH/verify.out" 2>&1 || { cat "$SCRATCH/verify.out"; return 1; }; }
}

# What a rejected command must leave untouched: every ref and the config.
repo_state() {
	_d=${1:-.}/.resque
	git --git-dir="$_d" for-each-ref --format='%(refname) %(objectname)' 2>/dev/null
	sha256sum "$_d/config" 2>/dev/null | cut -d' ' -f1
}

# JSON field extraction for checks: json_get FILE PYTHON-EXPR (on `d`).
make_embeddings() { # OUT-PREFIX SEED SHIFT: OUT-emb.npy (300×8 float32, 3 classes) and OUT-lab.npy (numpy)
	"$PY" - "$@" <<-'PYEOF'
	import sys, numpy as np
	out, seed, shift = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
	g = np.random.default_rng(seed)
	y = g.integers(0, 3, 300)
	centres = np.random.default_rng(7).standard_normal((3, 8)) * 2
	x = centres[y] + g.standard_normal((300, 8)) + shift * g.standard_normal(8)
	np.save(out + "-emb.npy", x.astype(np.float32))
	np.save(out + "-lab.npy", y.astype(np.int64))
	PYEOF
}

json_get() {
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# test_at_end CMD: run CMD (eval'd) when the script ends, by test_done or an
# early exit, before its scratch directory goes (lib-remote.sh stops its
# servers so).
_test_at_end=""
test_at_end() {
	_test_at_end="$_test_at_end$1
"
}

_test_result() {
	eval "$_test_at_end"
	_test_at_end=""
	printf '%s: %d passed, %d failed, %d skipped\n' "$TEST_NAME" "$test_passed" "$test_failed" "$test_skipped"
	if [ -z "${TEST_KEEP:-}" ]; then
		cd / && rm -rf "$SCRATCH"
	fi
}

# An exit before test_done (an `exit` in a body or in the script) is one
# more failure, with its result line all the same.
_test_exit() {
	_rc=$?
	[ -n "${_test_finished:-}" ] && return
	_test_finished=1
	test_failed=$((test_failed + 1))
	say "not ok - $TEST_NAME: exited with status $_rc before test_done${_desc:+ (last case: $_desc)}"
	_test_result
	exit 1
}
trap _test_exit EXIT

test_done() {
	_test_finished=1
	_test_result
	[ "$test_failed" -eq 0 ]
}
