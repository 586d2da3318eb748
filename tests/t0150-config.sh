#!/bin/sh
# resque config: repository settings in .resque/config.
. "$(dirname "$0")/lib.sh"

test_expect_success 'set, get, list and unset' '
	expect_success resque init p && cd p &&
	expect_success resque config region FR && expect_success resque config pue 1.4 &&
	expect_success resque config region && grep_out "^FR$" &&
	git config --file .resque/config resque.region >v && grep -q "^FR$" v &&
	expect_success resque config --json &&
	test "$(json_get "$OUT" "d[\"region\"]")" = FR && test "$(json_get "$OUT" "d[\"pue\"]")" = 1.4 &&
	expect_success resque config && grep_out "^pue=1.4$" &&
	expect_success resque config --unset pue &&
	expect_failure 1 resque config pue &&
	expect_success resque config remote.origin.url /tmp/x && expect_success resque config remote.origin.url && grep_out "^/tmp/x$"
'

test_expect_success 'bad values are refused and change nothing' '
	cd p && repo_state >before &&
	expect_error 1 "pue must be a decimal number in the plausible range [1, 3], not '"'"'0.9'"'"'" resque config pue 0.9 &&
	expect_error 1 "pue must be a decimal number" resque config pue fast &&
	expect_error 1 "pue must be a decimal number" resque config pue 0x2 &&
	expect_error 1 "pue must be a decimal number" resque config pue 50 &&
	expect_error 1 "signingkey must be a key id" resque config signingkey zz &&
	expect_error 1 "is not set" resque config --unset hardware &&
	expect_failure 2 resque config --unset region extra &&
	repo_state >after && compare before after
'

test_done
