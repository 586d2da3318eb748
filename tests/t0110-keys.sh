#!/bin/sh
# resque key gen|list|add|revoke and encrypted keys.
. "$(dirname "$0")/lib.sh"

test_expect_success 'key gen writes a 0600 secret and a public key, first one default' '
	expect_success resque key gen --json &&
	id=$(json_get "$OUT" "d[\"id\"]") && test ${#id} = 16 &&
	test "$(json_get "$OUT" "d[\"default\"]")" = True &&
	test "$(stat -c %a "$RESQUE_HOME/keys/$id.key")" = 600 &&
	grep -q "^public [0-9a-f]\{64\}$" "$RESQUE_HOME/keys/$id.pub" &&
	echo "$id" >first
'

test_expect_success 'init signs with the default key; list shows it as signer' '
	expect_success resque init p && cd p &&
	expect_success resque key list --json &&
	test "$(json_get "$OUT" "d[\"signers\"][0][\"id\"]")" = "$(cat ../first)" &&
	test "$(json_get "$OUT" "d[\"keys\"][0][\"default\"]")" = True
'

test_expect_success 'encrypted keys need the passphrase' '
	cd p &&
	RESQUE_PASSPHRASE=s3cret expect_success resque key gen --encrypt --json &&
	enc=$(json_get "$OUT" "d[\"id\"]") && echo "$enc" >../enc &&
	grep -q "^encryption argon2id13" "$RESQUE_HOME/keys/$enc.key" &&
	expect_success resque key add "$RESQUE_HOME/keys/$enc.pub" --name alice &&
	git config --file .resque/config resque.signingkey "$enc" &&
	repo_state >before &&
	expect_error 1 "encrypted" resque note -m "no passphrase" </dev/null &&
	RESQUE_PASSPHRASE=wrong expect_error 1 "wrong passphrase" resque note -m "bad" &&
	repo_state >after && compare before after &&
	RESQUE_PASSPHRASE=s3cret expect_success resque note -m "signed by the encrypted key" &&
	expect_success resque log --json &&
	test "$(json_get "$OUT" "d[0][\"signer\"]")" = "$enc" &&
	git config --file .resque/config --unset resque.signingkey
'

test_expect_success 'a key that is not a signer may not write' '
	cd p &&
	RESQUE_HOME="$SCRATCH/other" expect_success resque key gen &&
	repo_state >before &&
	RESQUE_HOME="$SCRATCH/other" expect_error 1 "is not a signer of this ledger" resque note -m intruder &&
	RESQUE_HOME="$SCRATCH/other" expect_error 1 "is not a signer" resque key add "$(ls "$SCRATCH"/other/keys/*.pub)" &&
	repo_state >after && compare before after
'

test_expect_success 'key add refuses bad input and duplicates' '
	cd p &&
	repo_state >before &&
	expect_error 1 "already a signer" resque key add "$RESQUE_HOME/keys/$(cat ../first).pub" &&
	echo nonsense >bad.pub &&
	expect_error 1 "bad.pub: not a public key" resque key add bad.pub &&
	expect_failure 2 resque key add &&
	repo_state >after && compare before after
'

test_expect_success 'revoke a signer; its later entries are refused; the last signer stays' '
	cd p &&
	enc=$(cat ../enc) &&
	expect_success resque key revoke "$enc" --reason "laptop lost" &&
	grep_out "revoked signer $enc" &&
	git config --file .resque/config resque.signingkey "$enc" &&
	repo_state >before &&
	RESQUE_PASSPHRASE=s3cret expect_error 1 "was revoked" resque note -m "after revocation" &&
	repo_state >after && compare before after &&
	git config --file .resque/config --unset resque.signingkey &&
	expect_error 1 "revoked already" resque key revoke "$enc" &&
	expect_error 1 "last active signer" resque key revoke "$(cat ../first)" &&
	expect_error 1 "not a signer" resque key revoke ffffffff &&
	expect_success resque key list --json &&
	test "$(json_get "$OUT" "[s[\"revoked\"] for s in d[\"signers\"] if s[\"id\"]==\"$enc\"][0]")" = True &&
	expect_success resque verify
'

test_expect_success 'a world-readable secret key is refused' '
	cd p &&
	id=$(cat ../first) && chmod 644 "$RESQUE_HOME/keys/$id.key" &&
	expect_error 1 "readable by others" resque note -m x &&
	chmod 600 "$RESQUE_HOME/keys/$id.key"
'

test_done
