#!/bin/sh
# resque init, repository discovery, the command table and --help.
. "$(dirname "$0")/lib.sh"

test_expect_success 'init creates a bare repository, config, index and a key' '
	expect_success resque init proj &&
	grep_out "Initialised resque repository in .*/proj/.resque" &&
	test -f proj/.resque/config && test -f proj/.resque/index.db &&
	git --git-dir=proj/.resque rev-parse --is-bare-repository >bare && grep -q true bare &&
	git --git-dir=proj/.resque rev-parse --verify -q refs/heads/ledger &&
	test "$(git --git-dir=proj/.resque rev-list --count ledger)" = 1 &&
	ls "$RESQUE_HOME"/keys/*.key >keys && test "$(wc -l <keys)" = 1 &&
	test "$(stat -c %a "$(cat keys)")" = 600 &&
	test "$(stat -c %a "$RESQUE_HOME/keys")" = 700
'

test_expect_success 'the genesis entry is readable with plain git and names its signer' '
	git --git-dir=proj/.resque show ledger:entry >entry &&
	grep -q "\"type\":\"init\"" entry && grep -q "\"seq\":0" entry &&
	id=$(basename "$(ls "$RESQUE_HOME"/keys/*.key)" .key) &&
	grep -q "\"signer\":\"$id\"" entry &&
	git --git-dir=proj/.resque show ledger:sig | grep -q "^ed25519 $id [0-9a-f]\{128\}$"
'

test_expect_success 're-initialising is refused and changes nothing' '
	repo_state proj >before &&
	expect_error 1 "a repository exists already" resque init proj &&
	repo_state proj >after && compare before after
'

test_expect_success 'a second repository reuses the existing key' '
	expect_success resque init other &&
	ls "$RESQUE_HOME"/keys/*.key >keys && test "$(wc -l <keys)" = 1 &&
	a=$(git --git-dir=proj/.resque show ledger:entry | sed "s/.*signer\":\"\([0-9a-f]*\)\".*/\1/") &&
	b=$(git --git-dir=other/.resque show ledger:entry | sed "s/.*signer\":\"\([0-9a-f]*\)\".*/\1/") &&
	test "$a" = "$b"
'

test_expect_success 'commands find the repository from a subdirectory, -C and RESQUE_DIR' '
	mkdir -p proj/a/b &&
	(cd proj/a/b && expect_success resque log) && grep_out "init" &&
	expect_success resque -C proj/a log && grep_out "init" &&
	RESQUE_DIR=proj expect_success resque log && grep_out "init" &&
	RESQUE_DIR=proj/.resque expect_success resque log && grep_out "init"
'

test_expect_success 'outside a repository commands say so' '
	mkdir empty && cd empty &&
	expect_error 1 "not in a resque repository" resque log &&
	RESQUE_DIR=/nonexistent expect_error 1 "RESQUE_DIR=/nonexistent" resque log
'

test_expect_success 'init with -C creates there' '
	mkdir viac && expect_success resque -C viac init && test -d viac/.resque
'

test_expect_success 'help, version and unknown commands' '
	expect_success resque --help && grep_out "^    init " && grep_out "^    verify " &&
	expect_success resque --version && grep_out "^resque [0-9]+\.[0-9]+\.[0-9]+$" &&
	expect_success resque help note && grep_out "usage: resque note" && grep_out "--message" &&
	expect_success resque note --help && grep_out "usage: resque note" &&
	expect_success resque key --help && grep_out "revoke" &&
	expect_failure 2 resque nte && grep_err "not a resque command" && grep_err "note" &&
	expect_failure 2 resque && grep_err "usage: resque" &&
	expect_failure 2 resque log --bogus && grep_err "unknown option .--bogus." &&
	expect_failure 2 resque key frobnicate && grep_err "not a subcommand"
'

test_expect_success 'every command in the table has --help' '
	resque --help | sed -n "s/^    \([a-z][a-z]*\) .*/\1/p" >cmds && test -s cmds &&
	while read c; do
		expect_success resque "$c" --help && grep_out "usage: resque $c" || return 1
	done <cmds
'

test_expect_success 'init where a file stands fails cleanly and leaves nothing' '
	echo x >afile && keys_before=$(ls "$RESQUE_HOME/keys" | wc -l) &&
	expect_failure 1 resque init afile/sub && grep_err "afile" &&
	test ! -e afile.resque && test "$(cat afile)" = x &&
	! ls -a | grep -q "\.tmp-" &&
	test "$(ls "$RESQUE_HOME/keys" | wc -l)" = "$keys_before" &&
	if [ "$(id -u)" != 0 ]; then
		mkdir ro && chmod 500 ro && expect_failure 1 resque init ro && test ! -e ro/.resque && chmod 700 ro
	fi
'

test_done
