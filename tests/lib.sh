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
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_EVENTS RESQUE_NOW
# Sanitizer reports must not look like an ordinary failure (exit 1).
export ASAN_OPTIONS="exitcode=99:detect_leaks=1"
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

test_expect_success() {
	_desc=$1
	_body=$2
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

# What a rejected command must leave untouched: every ref and the config.
repo_state() {
	_d=${1:-.}/.resque
	git --git-dir="$_d" for-each-ref --format='%(refname) %(objectname)' 2>/dev/null
	sha256sum "$_d/config" 2>/dev/null | cut -d' ' -f1
}

# JSON field extraction for checks: json_get FILE PYTHON-EXPR (on `d`).
json_get() {
	"$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

test_done() {
	[ "$test_skipped" -gt 0 ] && printf '%s: %d skipped\n' "$TEST_NAME" "$test_skipped"
	printf '%s: %d passed, %d failed\n' "$TEST_NAME" "$test_passed" "$test_failed"
	if [ -z "${TEST_KEEP:-}" ]; then
		cd / && rm -rf "$SCRATCH"
	fi
	[ "$test_failed" -eq 0 ]
}
