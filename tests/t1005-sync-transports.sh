#!/bin/sh
# Sync over real transports on 127.0.0.1 (issue 13 item 6): git daemon
# (git://), git http-backend (http://, with and without credentials) and
# the same behind TLS (https://, a throwaway certificate), and
# OpenSSH's sshd (ssh:// and scp-like), each started and stopped here by
# tests/lib-remote.sh. Over each: clone, two people appending and pushing
# in turn, a diverged push refused, pull --rebase with references between
# the replayed entries, a tampered remote and a rolled-back remote refused
# with exit 3, and plain `git clone` of the remote still reading the
# ledger. A transport whose server cannot start is a counted skip.
. "$(dirname "$0")/lib.sh"
. "$RQ_ROOT/tests/lib-remote.sh"
test_requires GIT

SQ="'"
A_HOME=$SCRATCH/alice-home
B_HOME=$SCRATCH/bob-home

# is ACTUAL EXPECTED: equal, or say both
is() { [ "$1" = "$2" ] || { say "expected '$2', got '$1'"; return 1; }; }

# resque with no terminal on stdin, bounded in time (lib.sh's limited)
rq() { limited resque "$@" </dev/null; }

test_expect_success 'setup: two people, each with a key' '
	mkdir -p "$A_HOME" "$B_HOME" &&
	RESQUE_HOME=$A_HOME resque key gen >/dev/null 2>&1 &&
	RESQUE_HOME=$B_HOME resque key gen >/dev/null 2>&1 &&
	cp "$B_HOME"/keys/*.pub "$SCRATCH/bob.pub"
'

# scenario NAME URL-BASE: the whole team cycle over one transport; the
# bare repository NAME.git is served at URL-BASE/NAME.git.
scenario() {
	_n=$1
	_url=$2/$_n.git
	_bare=$(remote_bare "$_n") || return 1
	mkdir "$SCRATCH/$_n-alice" && cd "$SCRATCH/$_n-alice" && export RESQUE_HOME=$A_HOME &&
	expect_success resque init && expect_success resque key add --name bob "$SCRATCH/bob.pub" &&
	head -c 300 /dev/urandom >w1.bin && echo "{\"epochs\": 3, \"energy_kwh\": 1.5, \"duration_s\": 9}" >cost.json &&
	expect_success resque commit -w w1.bin --name v1 --cost cost.json &&
	expect_success resque remote add origin "$_url" &&
	expect_success rq push --json && is "$(json_get "$OUT" "d[\"sent\"]")" 3 &&
	is "$(entries "$_bare")" 3 || return 1
	# clone
	cd "$SCRATCH" && export RESQUE_HOME=$B_HOME &&
	expect_success rq clone --json "$_url" "$_n-bob" &&
	is "$(json_get "$OUT" "d[\"received\"], d[\"remote\"], d[\"url\"]")" "(3, ${SQ}origin${SQ}, ${SQ}$_url${SQ})" &&
	cd "$_n-bob" && expect_success resque verify || return 1
	# appending and pushing in turn
	expect_success resque note -m "bob 1" && expect_success rq push &&
	cd "$SCRATCH/$_n-alice" && export RESQUE_HOME=$A_HOME &&
	expect_success rq pull && expect_success resque note -m "alice 1" && expect_success rq push &&
	cd "$SCRATCH/$_n-bob" && export RESQUE_HOME=$B_HOME &&
	expect_success rq pull && is "$(entries .resque)" 5 || return 1
	# diverged: a push refused, then pull --rebase with references
	head -c 300 /dev/urandom >w2.bin && head -c 300 /dev/urandom >w3.bin &&
	echo "{\"epochs\": 2, \"energy_kwh\": 1, \"duration_s\": 5}" >cost.json &&
	expect_success resque commit -w w2.bin --name v2 -p v1 --cost cost.json &&
	expect_success resque commit -w w3.bin --name v3 -p v2 --cost cost.json &&
	cd "$SCRATCH/$_n-alice" && export RESQUE_HOME=$A_HOME &&
	expect_success resque note -m "alice 2" && expect_success rq push &&
	cd "$SCRATCH/$_n-bob" && export RESQUE_HOME=$B_HOME &&
	t=$(tip_of "$_bare") &&
	expect_failure 1 rq push && grep_err "pull first" && is "$(tip_of "$_bare")" "$t" &&
	expect_failure 1 rq pull && grep_err "the ledgers diverged" &&
	expect_success rq pull --rebase --json &&
	is "$(json_get "$OUT" "d[\"rebased\"], d[\"received\"]")" "(2, 1)" &&
	v2=$(resque show v2 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[\"id\"])") &&
	expect_success resque show v3 --json && is "$(json_get "$OUT" "d[\"body\"][\"parent\"]")" "$v2" &&
	expect_success resque verify && expect_success rq push && is "$(entries "$_bare")" 8 || return 1
	# plain git clone of the remote still reads the ledger
	cd "$SCRATCH" && git clone -q --branch ledger "$_url" "$_n-plain" &&
	grep -q "\"name\":\"v3\"" "$_n-plain/entry" && is "$(git -C "$_n-plain" rev-list --count HEAD)" 8 || return 1
	# a rolled-back remote, then a tampered one: exit 3, nothing changes here
	cd "$SCRATCH/$_n-alice" && export RESQUE_HOME=$A_HOME && expect_success rq pull &&
	git --git-dir="$_bare" update-ref refs/heads/ledger "$(git --git-dir="$_bare" rev-parse ledger~2)" &&
	unchanged_after 3 "rolled back: it served 8 entries before, now 6" rq pull &&
	git --git-dir="$_bare" update-ref refs/heads/ledger "$(git --git-dir=.resque rev-parse ledger)" &&
	expect_success resque note -m "to tamper" && expect_success rq push && tamper_tip "$_bare" &&
	cd "$SCRATCH/$_n-bob" && export RESQUE_HOME=$B_HOME &&
	unchanged_after 3 "bad signature" rq pull &&
	cd "$SCRATCH" && expect_failure 3 rq clone "$_url" "$_n-tampered" && test ! -e "$_n-tampered/.resque"
}

test_expect_success GIT_DAEMON 'git:// (git daemon): the team cycle' '
	start_git_daemon && scenario daemon "$GIT_DAEMON_URL"
'

test_expect_success HTTP_BACKEND 'http:// (git http-backend): the team cycle' '
	start_http_server && scenario http "$HTTP_URL"
'

test_expect_success SSHD 'ssh:// (sshd, key file ~/.ssh/id_ed25519, known_hosts checked): the team cycle' '
	start_sshd && scenario ssh "$SSH_URL"
'

test_expect_success HTTP_BACKEND 'http credentials: from the URL, from git credential helpers; none fails clearly' '
	start_http_server && cd "$SCRATCH" && export RESQUE_HOME=$B_HOME &&
	git clone -q --bare "$SCRATCH/http-alice/.resque" "$SCRATCH/srv/cred.git" &&
	expect_success rq clone "$HTTP_CRED_URL/cred.git" auth1 && grep_out "cloned" &&
	expect_failure 1 rq clone "$HTTP_AUTH_URL/cred.git" auth2 &&
	grep_err "remote ${SQ}origin${SQ} \($HTTP_AUTH_URL/cred.git\): authentication failed" && test ! -e auth2 &&
	printf "http://%s:%s@127.0.0.1:%s\n" "$HTTP_AUTH_USER" "$HTTP_AUTH_PASSWORD" "$HTTP_PORT" >"$HOME/.git-credentials" &&
	git config --global credential.helper store &&
	expect_success rq clone "$HTTP_AUTH_URL/cred.git" auth3 &&
	git config --global --unset credential.helper
'

test_expect_success HTTPS 'https: the certificate is checked; trusted through GIT_SSL_CAINFO or http.sslCAInfo as in git' '
	start_https_server && cd "$SCRATCH" && export RESQUE_HOME=$B_HOME &&
	git clone -q --bare "$SCRATCH/http-alice/.resque" "$SCRATCH/srv/tls.git" &&
	expect_failure 1 rq clone "$HTTPS_URL/tls.git" t1 && grep_err "remote ${SQ}origin${SQ} \($HTTPS_URL/tls.git\)" &&
	grep_err "certificate" && test ! -e t1 &&
	GIT_SSL_CAINFO=$HTTPS_CA expect_success rq clone "$HTTPS_URL/tls.git" t2 && grep_out "cloned" &&
	git config --global http.sslCAInfo "$HTTPS_CA" &&
	(cd t2 && expect_success rq pull) && expect_success rq clone "$HTTPS_URL/tls.git" t3 &&
	git config --global --unset http.sslCAInfo
'

test_expect_success SSHD 'ssh: an unknown host key and a key the server refuses fail clearly, naming the remote' '
	start_sshd && cd "$SCRATCH" && export RESQUE_HOME=$B_HOME &&
	cp "$HOME/.ssh/known_hosts" kh.saved &&
	sed "s/ssh-ed25519 .*/ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbmVq9VfEgkqnN0yZ0cLDQvQ3KaUp2fDx0bX0nVbmCZ/" kh.saved >"$HOME/.ssh/known_hosts" &&
	expect_failure 1 rq clone "$SSH_URL/ssh.git" k1 && grep_err "remote ${SQ}origin${SQ}" && grep_err "host ?key" &&
	test ! -e k1 &&
	cp kh.saved "$HOME/.ssh/known_hosts" &&
	mv "$HOME/.ssh/id_ed25519" "$HOME/.ssh/id_ed25519.off" && mv "$HOME/.ssh/id_ed25519.pub" "$HOME/.ssh/id_ed25519.pub.off" &&
	expect_failure 1 rq clone "$SSH_URL/ssh.git" k2; rc=$?
	mv "$HOME/.ssh/id_ed25519.off" "$HOME/.ssh/id_ed25519" && mv "$HOME/.ssh/id_ed25519.pub.off" "$HOME/.ssh/id_ed25519.pub"
	test $rc = 0 && grep_err "authentication failed" && test ! -e k2
'

test_expect_success SSH_SCP 'scp-like user@host:path URLs' '
	cd "$SCRATCH" && export RESQUE_HOME=$B_HOME &&
	git clone -q --bare "$SCRATCH/ssh-alice/.resque" "$SCRATCH/srv/scp.git" &&
	expect_success rq clone "$SSH_SCP_URL/scp.git" scp1 && grep_out "cloned" &&
	(cd scp1 && resque remote -v | grep -q "^origin	$SSH_SCP_URL/scp.git\$")
'

test_expect_success 'the servers are gone after stop_servers' '
	stop_servers && test -z "$(servers_left)"
'

test_done
