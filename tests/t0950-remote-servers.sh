#!/bin/sh
# The test servers of tests/lib-remote.sh (issue 13 item 6): git daemon,
# git http-backend behind tests/helpers/git-http-server.py, and OpenSSH's
# sshd, each on 127.0.0.1. Over each one the git binary clones an empty
# bare repository, commits, pushes and clones again; and libgit2 (the
# library resque's sync uses; tests/helpers/git2-probe.c) clones and pushes
# (over http with a chunked body), authenticates with a key file or URL
# credentials, and refuses a host whose key is not the one in known_hosts.
# Nothing is left running: not after stop_servers, not after a script that
# exits early, not after one killed with SIGKILL.
. "$(dirname "$0")/lib.sh"
. "$RQ_ROOT/tests/lib-remote.sh"
test_requires GIT

RQ_LIMIT=60

# probe ARGS...: tests/helpers/git2-probe, bounded in time. libgit2 1.5.1
# itself leaks (pcre2 match data in git_remote_create, the known_hosts of
# an ssh connection): in a sanitized build (make asan) leak reports are off
# for it, every other sanitizer report still counts.
probe() {
	if command -v timeout >/dev/null 2>&1; then
		set -- timeout 60 git2-probe "$@"
	else
		set -- git2-probe "$@"
	fi
	env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$@"
}

# git_round URL NAME: the git binary clones the empty NAME.git at URL,
# commits, pushes; a second clone sees the commit.
git_round() {
	remote_bare "$2" >/dev/null &&
	limited git clone -q "$1/$2.git" "$2-a" 2>"$SCRATCH/clone.err" &&
	git -C "$2-a" checkout -q -b master &&
	echo one >"$2-a/f" && git -C "$2-a" add f &&
	git -C "$2-a" commit -q -m "first over $2" &&
	limited git -C "$2-a" push -q origin master &&
	limited git clone -q "$1/$2.git" "$2-b" &&
	test "$(git -C "$2-b" log -1 --format=%s)" = "first over $2" &&
	test "$(git -C "$2-b" rev-parse HEAD)" = "$(git -C "$2-a" rev-parse HEAD)"
}

# git2_round URL NAME: libgit2 clones NAME.git (one commit, pushed by git
# to the bare repository directly), a commit is made, libgit2 pushes it and
# the bare repository has it.
git2_round() {
	remote_bare "$2" >/dev/null &&
	git init -q -b master "$2-seed" &&
	git -C "$2-seed" commit -q --allow-empty -m seed &&
	git -C "$2-seed" push -q "$SCRATCH/srv/$2.git" master &&
	expect_success probe clone "$1/$2.git" "$2-lg" &&
	test "$(git -C "$2-lg" log -1 --format=%s)" = seed &&
	git -C "$2-lg" commit -q --allow-empty -m "pushed by libgit2" &&
	expect_success probe push "$2-lg" refs/heads/master:refs/heads/master &&
	grep_out "^pushed refs/heads/master$" &&
	test "$(git --git-dir="$SCRATCH/srv/$2.git" log -1 --format=%s master)" = "pushed by libgit2" &&
	test "$(git --git-dir="$SCRATCH/srv/$2.git" rev-parse master)" = "$(git -C "$2-lg" rev-parse HEAD)"
}

test_expect_success 'remote_bare makes an empty bare repository under $SCRATCH/srv' '
	expect_success remote_bare empty &&
	grep_out "^$SCRATCH/srv/empty.git$" &&
	test "$(git --git-dir="$SCRATCH/srv/empty.git" rev-parse --is-bare-repository)" = true &&
	test -z "$(git --git-dir="$SCRATCH/srv/empty.git" for-each-ref)"
'

test_expect_success GIT_DAEMON 'git daemon: git clones, pushes and clones again' '
	start_git_daemon &&
	case $GIT_DAEMON_URL in git://127.0.0.1:[0-9]*) ;; *) false ;; esac &&
	git_round "$GIT_DAEMON_URL" gd
'

test_expect_success GIT_DAEMON 'git daemon: libgit2 clones and pushes' '
	start_git_daemon &&
	git2_round "$GIT_DAEMON_URL" gd2
'

test_expect_success HTTP_BACKEND 'smart http: git clones, pushes and clones again' '
	start_http_server &&
	case $HTTP_URL in http://127.0.0.1:[0-9]*) ;; *) false ;; esac &&
	git_round "$HTTP_URL" ht
'

test_expect_success HTTP_BACKEND 'smart http: libgit2 clones and pushes, the push body chunked' '
	start_http_server &&
	git2_round "$HTTP_URL" ht2 &&
	grep -q "^POST /ht2.git/git-receive-pack 200 body=chunked " "$SRV_DIR/http.log"
'

test_expect_success HTTP_BACKEND 'smart http: credentials from the URL open /auth, none or wrong ones get 401' '
	start_http_server &&
	git2_round "$HTTP_CRED_URL" auth &&
	grep -q "^GET /auth/auth.git/info/refs?service=git-upload-pack 401 " "$SRV_DIR/http.log" &&
	grep -q "^POST /auth/auth.git/git-receive-pack 200 body=chunked " "$SRV_DIR/http.log" &&
	expect_failure 1 probe ls "$HTTP_AUTH_URL/auth.git" &&
	grep_err "authentication" &&
	expect_failure 1 probe ls \
		"http://$HTTP_AUTH_USER:wrong@127.0.0.1:$HTTP_PORT/auth/auth.git" &&
	grep_err "authentication"
'

test_expect_success HTTP_BACKEND 'smart http: git with credentials; without them it fails, never prompts' '
	start_http_server &&
	limited git clone -q "$HTTP_CRED_URL/auth.git" auth-git &&
	test "$(git -C auth-git log -1 --format=%s)" = "pushed by libgit2" &&
	! limited env GIT_TERMINAL_PROMPT=0 git clone -q "$HTTP_AUTH_URL/auth.git" auth-none </dev/null 2>err &&
	grep -q "Authentication failed\|could not read Username" err
'

test_expect_success SSHD 'ssh: git (OpenSSH client) clones, pushes and clones again' '
	start_sshd &&
	case $SSH_URL in "ssh://$SSH_USER@127.0.0.1:"[0-9]*"$SCRATCH/srv") ;; *) false ;; esac &&
	grep -q "^\[127.0.0.1\]:$SSH_PORT ssh-ed25519 " "$HOME/.ssh/known_hosts" &&
	git_round "$SSH_URL" ss
'

test_expect_success SSHD 'ssh: libgit2 clones and pushes with ~/.ssh/id_ed25519' '
	start_sshd &&
	unset SSH_AUTH_SOCK &&
	git2_round "$SSH_URL" ss2 &&
	grep_err "ssh key $HOME/.ssh/id_ed25519$"
'

# known_hosts_refused LINE: with only LINE in known_hosts, libgit2 refuses
# the server (known_hosts restored after)
known_hosts_refused() {
	cp "$HOME/.ssh/known_hosts" known_hosts.good &&
	printf "%s\n" "$1" >"$HOME/.ssh/known_hosts" &&
	expect_failure 1 probe ls "$SSH_URL/ss2.git"
	_r=$?
	cp known_hosts.good "$HOME/.ssh/known_hosts" &&
	test $_r = 0 &&
	grep_err "invalid or unknown remote ssh hostkey"
}

test_expect_success SSH_SCP 'ssh, scp-like URL (127.0.0.2:22): git and libgit2 clone and push' '
	start_sshd &&
	case $SSH_SCP_URL in "$SSH_USER@127.0.0.2:$SCRATCH/srv") ;; *) false ;; esac &&
	grep -q "^127.0.0.2 ssh-ed25519 " "$HOME/.ssh/known_hosts" &&
	git_round "$SSH_SCP_URL" scp &&
	git2_round "$SSH_SCP_URL" scp2
'

test_expect_success SSHD 'ssh: libgit2 refuses a host whose key differs from known_hosts' '
	start_sshd &&
	ssh-keygen -q -t ed25519 -N "" -f other_host &&
	known_hosts_refused "[127.0.0.1]:$SSH_PORT $(cut -d" " -f1,2 other_host.pub)" &&
	known_hosts_refused "" &&
	known_hosts_refused "[127.0.0.1]:22 $SSH_HOST_KEY" &&
	expect_success probe ls "$SSH_URL/ss2.git" &&
	grep_out " refs/heads/master$"
'

test_expect_success SSHD 'ssh: libgit2 falls back to ~/.ssh/id_rsa (ssh-rsa signatures allowed)' '
	start_sshd &&
	mv "$HOME/.ssh/id_ed25519" id.saved && mv "$HOME/.ssh/id_ed25519.pub" id.saved.pub &&
	ssh-keygen -q -t rsa -b 2048 -N "" -f "$HOME/.ssh/id_rsa" &&
	cat "$HOME/.ssh/id_rsa.pub" >>"$SSH_AUTHORIZED_KEYS" &&
	probe ls "$SSH_URL/ss2.git" >out 2>err
	rc=$?
	mv id.saved "$HOME/.ssh/id_ed25519" && mv id.saved.pub "$HOME/.ssh/id_ed25519.pub" &&
	rm -f "$HOME/.ssh/id_rsa" "$HOME/.ssh/id_rsa.pub" &&
	cat err && test $rc = 0 &&
	grep -q "ssh key $HOME/.ssh/id_rsa$" err &&
	grep -q " refs/heads/master$" out
'

test_expect_success SSHD 'ssh: libgit2 fails cleanly when the key is not authorised' '
	start_sshd &&
	mv "$HOME/.ssh/id_ed25519" id.saved && mv "$HOME/.ssh/id_ed25519.pub" id.saved.pub &&
	ssh-keygen -q -t ed25519 -N "" -f "$HOME/.ssh/id_ed25519" &&
	expect_failure 1 probe ls "$SSH_URL/ss2.git" &&
	grep_err "authentication|no ssh key left" &&
	mv id.saved "$HOME/.ssh/id_ed25519" && mv id.saved.pub "$HOME/.ssh/id_ed25519.pub" &&
	expect_success probe ls "$SSH_URL/ss2.git"
'

test_expect_success 'stop_servers leaves no process and no listening port' '
	ports="${GIT_DAEMON_PORT:-} ${HTTP_PORT:-} ${SSH_PORT:-}" &&
	stop_servers &&
	test -z "$(servers_left)" &&
	for p in $ports; do
		! "$PY" -c "import socket,sys; socket.create_connection((\"127.0.0.1\", int(sys.argv[1])), 1)" "$p" 2>/dev/null ||
			{ echo "port $p still open"; return 1; }
	done
'

# A script using lib-remote.sh that ends badly: its servers go all the same.
cat >early.sh <<EOF
. "$RQ_ROOT/tests/lib.sh"
RQ_ROOT="$RQ_ROOT"
. "$RQ_ROOT/tests/lib-remote.sh"
start_git_daemon || exit 0
echo "\$_srv_git_daemon_pid" >"$SCRATCH/early.pid"
echo "\$SCRATCH" >"$SCRATCH/early.scratch"
case \${1:-} in
exit) exit 3 ;;
fail) test_expect_success "fails" "false"; test_done ;;
kill) echo started >"$SCRATCH/early.ready"; exec sleep 60 ;;
esac
EOF

gone() { # PID: the process ends within 5 s
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt 100 ] && { echo "process $1 still running"; return 1; }
		sleep 0.05
	done
}

test_expect_success GIT_DAEMON 'a script that exits before test_done stops its servers' '
	rm -f early.pid &&
	! sh early.sh exit >out 2>&1 &&
	grep -q "exited with status 3 before test_done" out &&
	test -s early.pid &&
	gone "$(cat early.pid)"
'

test_expect_success GIT_DAEMON 'a script whose case fails stops its servers at test_done' '
	rm -f early.pid &&
	! sh early.sh fail >out 2>&1 &&
	grep -q "0 passed, 1 failed" out &&
	gone "$(cat early.pid)"
'

test_expect_success GIT_DAEMON 'a script killed with SIGKILL: the watchdog stops its servers' '
	rm -f early.pid early.ready &&
	sh early.sh kill >out 2>&1 &
	pid=$! &&
	i=0 && while [ ! -s early.ready ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done &&
	test -s early.pid &&
	kill -9 $pid &&
	{ wait $pid; true; } &&
	i=0 && while kill -0 "$(cat early.pid)" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.05; i=$((i + 1)); done &&
	gone "$(cat early.pid)" &&
	rm -rf "$(cat early.scratch)"
'

test_done
