# Real git servers on 127.0.0.1 for the sync tests, each started and stopped
# by the test script (sourced after tests/lib.sh):
#
#   . "$(dirname "$0")/lib.sh"
#   . "$RQ_ROOT/tests/lib-remote.sh"     (lib.sh has cd-ed into $SCRATCH)
#   test_expect_success SSHD 'clone over ssh' '
#       start_sshd && r=$(remote_bare shared) && resque clone "$SSH_URL/shared.git" ...
#   '
#
#   remote_bare NAME    an empty bare repository $SCRATCH/srv/NAME.git (path
#                       printed); every server below serves $SCRATCH/srv
#   start_git_daemon    git daemon, pushes allowed:
#                       GIT_DAEMON_URL=git://127.0.0.1:PORT (+ GIT_DAEMON_PORT)
#   start_http_server   git http-backend behind tests/helpers/git-http-server.py
#                       (smart HTTP, fetch and push, chunked request bodies):
#                       HTTP_URL=http://127.0.0.1:PORT, open to all;
#                       HTTP_AUTH_URL=http://127.0.0.1:PORT/auth, the same
#                       repositories behind basic authentication as
#                       HTTP_AUTH_USER / HTTP_AUTH_PASSWORD; HTTP_CRED_URL is
#                       HTTP_AUTH_URL with them in it (http://USER:PASS@...);
#                       HTTP_PORT; the request log $SRV_DIR/http.log says
#                       body=chunked for a chunked request
#   start_sshd          OpenSSH sshd as the current user, a throwaway host key
#                       (ed25519) and client key $HOME/.ssh/id_ed25519 (where
#                       resque looks; RQ_SSH_KEY_TYPE=rsa makes id_rsa
#                       instead) authorised in $SSH_AUTHORIZED_KEYS (append
#                       more public keys there), $HOME/.ssh/known_hosts with
#                       "[127.0.0.1]:PORT ssh-ed25519 KEY" (libgit2 checks it):
#                       SSH_URL=ssh://USER@127.0.0.1:PORT$SCRATCH/srv, SSH_PORT,
#                       SSH_USER, SSH_KEY (the private key), SSH_HOST_KEY (the
#                       host's "TYPE BASE64"), and GIT_SSH_COMMAND exported
#                       so that the git binary (OpenSSH's client, which reads
#                       the passwd home, not $HOME) uses the same key and
#                       known_hosts. An scp-like URL cannot carry a port and
#                       libgit2 does not read ~/.ssh/config: as root the same
#                       sshd also listens on 127.0.0.2:22, when free, and then
#                       SSH_SCP_URL=USER@127.0.0.2:$SCRATCH/srv (prerequisite
#                       SSH_SCP; otherwise SSH_SCP_URL is empty)
#   stop_servers        stops them all (also run when the script ends, by
#                       test_done or an early exit or a signal)
#   servers_left        prints any process still running from $SCRATCH
#
# A start function returns 0 once the server accepts connections, or 1 with
# the reason on stderr (after RQ_SERVER_WAIT seconds, default 10); calling
# it again while its server runs does nothing. Prerequisites GIT_DAEMON,
# HTTP_BACKEND, SSHD (and SSH_SCP) hold when the server can start here, so
# a case without one is a counted skip naming the reason.
# Logs: $SRV_DIR/{git-daemon,http,sshd}.log.

SRV_DIR="$SCRATCH/.servers"
_srv_pids=""
_srv_watchdog=""
_srv_git_daemon_pid="" _srv_http_pid="" _srv_https_pid="" _srv_sshd_pid="" _srv_last_pid=""

# The git binary's own daemon (Debian installs it outside PATH).
_srv_git_daemon() {
	if [ -x /usr/lib/git-core/git-daemon ]; then
		echo /usr/lib/git-core/git-daemon
	elif command -v git >/dev/null 2>&1 && [ -x "$(git --exec-path 2>/dev/null)/git-daemon" ]; then
		echo "$(git --exec-path)/git-daemon"
	else
		return 1
	fi
}
_srv_sshd() {
	for _s in /usr/sbin/sshd /usr/local/sbin/sshd; do
		[ -x "$_s" ] && { echo "$_s"; return 0; }
	done
	return 1
}

remote_bare() { # NAME: an empty bare repository; prints its path
	mkdir -p "$SCRATCH/srv" &&
	git init -q --bare "$SCRATCH/srv/$1.git" &&
	echo "$SCRATCH/srv/$1.git"
}

_srv_free_port() { # a port nobody listens on now (the kernel's choice)
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# _srv_wait PORT PID: 0 when 127.0.0.1:PORT accepts a connection; 2 when PID
# died first; 1 after RQ_SERVER_WAIT seconds.
_srv_wait() {
	"$PY" -c 'import os, socket, sys, time
port, pid, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + limit
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        pass
    try:  # gone, or a zombie the shell has not reaped yet
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(2)
    except FileNotFoundError:
        sys.exit(2)
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(2)
    time.sleep(0.02)
sys.exit(1)' "$1" "$2" "${RQ_SERVER_WAIT:-10}"
}

_srv_alive() { # PID
	kill -0 "$1" 2>/dev/null && ! grep -q '^[^ ]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

_srv_register() { # PID: stopped by stop_servers and at the end
	_srv_pids="$_srv_pids $1"
	echo "$1" >>"$SRV_DIR/pids"
	# If the script is killed (SIGKILL, no trap), the servers go when it
	# does: a watchdog polls this shell and stops what is in the pid file.
	if [ -z "$_srv_watchdog" ]; then
		(
			trap '' INT HUP
			trap 'exit 0' TERM
			while kill -0 "$_srv_parent" 2>/dev/null; do
				sleep 0.5 &
				wait $!
			done
			[ -f "$SRV_DIR/pids" ] && kill $(cat "$SRV_DIR/pids") 2>/dev/null
		) </dev/null >/dev/null 2>&1 &
		_srv_watchdog=$!
	fi
}

_srv_fail() { # PID LOG MESSAGE: stop PID, say why (with the log's tail)
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	say "$3"
	[ -s "$2" ] && tail -n 5 "$2" | sed 's/^/  log: /' >&2
	return 1
}

# _srv_start NAME LOG PORT CMD...: runs CMD in the background and waits for
# PORT; 0 when it listens, 2 when it died (the port was taken: retry), 1.
_srv_start() {
	_n=$1 _log=$2 _port=$3
	shift 3
	"$@" </dev/null >>"$_log" 2>&1 &
	_pid=$!
	_srv_wait "$_port" "$_pid"
	case $? in
	0) _srv_register "$_pid"; return 0 ;;
	2) wait "$_pid" 2>/dev/null; return 2 ;;
	*) _srv_fail "$_pid" "$_log" "$_n did not accept connections on 127.0.0.1:$_port within ${RQ_SERVER_WAIT:-10} s"; return 1 ;;
	esac
}

start_git_daemon() {
	[ -n "${GIT_DAEMON_URL:-}" ] && _srv_alive "$_srv_git_daemon_pid" && return 0
	_d=$(_srv_git_daemon) || { say "git daemon: not installed (apt-get install git)"; return 1; }
	mkdir -p "$SRV_DIR" "$SCRATCH/srv" || return 1
	_try=0
	while [ $_try -lt 5 ]; do
		_try=$((_try + 1))
		_p=$(_srv_free_port) || return 1
		_srv_start "git daemon" "$SRV_DIR/git-daemon.log" "$_p" \
			"$_d" --listen=127.0.0.1 --port="$_p" --reuseaddr --export-all \
			--enable=receive-pack --informative-errors \
			--base-path="$SCRATCH/srv" "$SCRATCH/srv"
		case $? in
		0)
			_srv_git_daemon_pid=$_pid
			GIT_DAEMON_PORT=$_p
			GIT_DAEMON_URL="git://127.0.0.1:$_p"
			return 0
			;;
		1) return 1 ;;
		esac
	done
	say "git daemon: exited at start 5 times"
	tail -n 5 "$SRV_DIR/git-daemon.log" | sed 's/^/  log: /' >&2
	return 1
}

HTTP_AUTH_USER=${HTTP_AUTH_USER:-resque}
HTTP_AUTH_PASSWORD=${HTTP_AUTH_PASSWORD:-s3cret-pw}

# _http_server SCHEME: git-http-server.py for http or https (the latter
# with the throwaway certificate of _tls_cert); prints its port.
_http_server() {
	mkdir -p "$SRV_DIR" "$SCRATCH/srv" || return 1
	rm -f "$SRV_DIR/$1.port"
	# The server binds its own ephemeral port and writes it down: no race.
	if [ "$1" = https ]; then
		RQ_TLS_CERT=$SRV_DIR/tls.crt RQ_TLS_KEY=$SRV_DIR/tls.key "$PY" "$RQ_ROOT/tests/helpers/git-http-server.py" \
			"$SCRATCH/srv" "$SRV_DIR/$1.port" "$HTTP_AUTH_USER:$HTTP_AUTH_PASSWORD" </dev/null >>"$SRV_DIR/$1.log" 2>&1 &
	else
		"$PY" "$RQ_ROOT/tests/helpers/git-http-server.py" "$SCRATCH/srv" "$SRV_DIR/$1.port" \
			"$HTTP_AUTH_USER:$HTTP_AUTH_PASSWORD" </dev/null >>"$SRV_DIR/$1.log" 2>&1 &
	fi
	_pid=$!
	_t=0
	while [ ! -s "$SRV_DIR/$1.port" ]; do
		_srv_alive "$_pid" ||
			_srv_fail "$_pid" "$SRV_DIR/$1.log" "git $1 server: exited at start" || return 1
		_t=$((_t + 1))
		[ $_t -gt $((${RQ_SERVER_WAIT:-10} * 20)) ] &&
			{ _srv_fail "$_pid" "$SRV_DIR/$1.log" "git $1 server: no port after ${RQ_SERVER_WAIT:-10} s"; return 1; }
		sleep 0.05
	done
	_p=$(cat "$SRV_DIR/$1.port")
	_srv_wait "$_p" "$_pid" ||
		{ _srv_fail "$_pid" "$SRV_DIR/$1.log" "git $1 server: not accepting connections on 127.0.0.1:$_p"; return 1; }
	_srv_register "$_pid"
	_srv_last_pid=$_pid
	echo "$_p" >"$SRV_DIR/$1.port.used"
}

_http_checks() {
	command -v git >/dev/null 2>&1 || { say "git http-backend: git not installed (apt-get install git)"; return 1; }
	[ -x "$(git --exec-path)/git-http-backend" ] ||
		{ say "git http-backend: not installed (apt-get install git)"; return 1; }
}

start_http_server() {
	[ -n "${HTTP_URL:-}" ] && _srv_alive "$_srv_http_pid" && return 0
	_http_checks && _http_server http || return 1
	_srv_http_pid=$_srv_last_pid
	_p=$(cat "$SRV_DIR/http.port.used")
	HTTP_PORT=$_p
	HTTP_URL="http://127.0.0.1:$_p"
	HTTP_AUTH_URL="http://127.0.0.1:$_p/auth"
	HTTP_CRED_URL="http://$HTTP_AUTH_USER:$HTTP_AUTH_PASSWORD@127.0.0.1:$_p/auth"
}

# A throwaway certificate for 127.0.0.1, which is also its own CA
# ($SRV_DIR/tls.crt): a client trusts it through GIT_SSL_CAINFO.
_tls_cert() {
	[ -s "$SRV_DIR/tls.crt" ] && return 0
	command -v openssl >/dev/null 2>&1 || { say "https: openssl not installed (apt-get install openssl)"; return 1; }
	mkdir -p "$SRV_DIR" &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=DNS:127.0.0.1,IP:127.0.0.1" -keyout "$SRV_DIR/tls.key" -out "$SRV_DIR/tls.crt" \
		>"$SRV_DIR/openssl.log" 2>&1 || { say "https: openssl could not make a certificate"; return 1; }
}

start_https_server() {
	[ -n "${HTTPS_URL:-}" ] && _srv_alive "$_srv_https_pid" && return 0
	_http_checks && _tls_cert && _http_server https || return 1
	_srv_https_pid=$_srv_last_pid
	_p=$(cat "$SRV_DIR/https.port.used")
	HTTPS_URL="https://127.0.0.1:$_p"
	HTTPS_CA=$SRV_DIR/tls.crt
}

start_sshd() {
	[ -n "${SSH_URL:-}" ] && _srv_alive "$_srv_sshd_pid" && return 0
	_d=$(_srv_sshd) || { say "sshd: not installed (apt-get install openssh-server)"; return 1; }
	command -v ssh-keygen >/dev/null 2>&1 || { say "sshd: no ssh-keygen (apt-get install openssh-client)"; return 1; }
	SSH_USER=$(id -un) || return 1
	_sh=$(getent passwd "$SSH_USER" | cut -d: -f7)
	[ -z "$_sh" ] || [ -x "$_sh" ] || { say "sshd: $SSH_USER's shell $_sh does not exist"; return 1; }
	_k="$SRV_DIR/sshd"
	# PubkeyAcceptedAlgorithms +ssh-rsa below: libssh2 1.10 signs with an
	# RSA key only as ssh-rsa (SHA-1), which OpenSSH refuses since 8.8;
	# without it an id_rsa could not log in to this server at all.
	# SetEnv SHLVL=1 below: bash, as the login shell of a session, reads
	# ~/.bashrc only when it thinks it is the top shell; a user's rc file
	# (slow, or printing something into git's protocol) stays out of it.
	mkdir -p "$_k" "$HOME/.ssh" "$SCRATCH/srv" || return 1
	chmod 700 "$HOME/.ssh" "$_k"
	# privilege separation wants its empty directory when sshd runs as root
	if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd
	fi
	[ -f "$_k/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C resque-test-host -f "$_k/host_ed25519" || return 1
	# The client key where libgit2's callers (resque) look for it:
	# ~/.ssh/id_ed25519, or id_rsa when RQ_SSH_KEY_TYPE=rsa.
	case ${RQ_SSH_KEY_TYPE:-ed25519} in
	ed25519) SSH_KEY="$HOME/.ssh/id_ed25519" ;;
	rsa) SSH_KEY="$HOME/.ssh/id_rsa" ;;
	*) say "sshd: RQ_SSH_KEY_TYPE is ed25519 or rsa, not $RQ_SSH_KEY_TYPE"; return 1 ;;
	esac
	[ -f "$SSH_KEY" ] || ssh-keygen -q -t "${RQ_SSH_KEY_TYPE:-ed25519}" -N '' -C resque-test -f "$SSH_KEY" ||
		return 1
	SSH_AUTHORIZED_KEYS="$_k/authorized_keys"
	cp "$SSH_KEY.pub" "$SSH_AUTHORIZED_KEYS"
	# scp-like URLs (user@host:path) cannot name a port, and libgit2 does
	# not read ~/.ssh/config: as root the server also listens on port 22 of
	# 127.0.0.2 (all of 127/8 is loopback), when that is free.
	_scp_listen=""
	[ "$(id -u)" = 0 ] && _scp_listen="ListenAddress 127.0.0.2:22"
	_try=0
	while [ $_try -lt 5 ]; do
		_try=$((_try + 1))
		_p=$(_srv_free_port) || return 1
		cat >"$_k/sshd_config" <<-EOF
		ListenAddress 127.0.0.1:$_p
		$_scp_listen
		HostKey $_k/host_ed25519
		PidFile $_k/sshd.pid
		AuthorizedKeysFile $_k/authorized_keys
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		PermitRootLogin prohibit-password
		AllowUsers $SSH_USER
		PrintMotd no
		PrintLastLog no
		UseDNS no
		AcceptEnv GIT_PROTOCOL
		PubkeyAcceptedAlgorithms +ssh-rsa
		SetEnv SHLVL=1
		LogLevel VERBOSE
		EOF
		: >"$SRV_DIR/sshd.log"
		_srv_start sshd "$SRV_DIR/sshd.log" "$_p" "$_d" -D -e -f "$_k/sshd_config"
		case $? in
		0) break ;;
		1) return 1 ;;
		esac
		[ $_try -eq 5 ] && { say "sshd: exited at start 5 times"; tail -n 5 "$SRV_DIR/sshd.log" | sed 's/^/  log: /' >&2; return 1; }
	done
	_srv_sshd_pid=$_pid
	SSH_PORT=$_p
	SSH_HOST_KEY=$(cut -d' ' -f1,2 "$_k/host_ed25519.pub")
	printf '[127.0.0.1]:%s %s\n' "$_p" "$SSH_HOST_KEY" >"$HOME/.ssh/known_hosts"
	SSH_URL="ssh://$SSH_USER@127.0.0.1:$_p$SCRATCH/srv"
	SSH_SCP_URL=""
	if [ -n "$_scp_listen" ] && grep -q "Server listening on 127.0.0.2 port 22" "$SRV_DIR/sshd.log"; then
		printf '127.0.0.2 %s\n' "$SSH_HOST_KEY" >>"$HOME/.ssh/known_hosts"
		SSH_SCP_URL="$SSH_USER@127.0.0.2:$SCRATCH/srv"
	fi
	# (curve25519: OpenSSH's default sntrup761 exchange doubles the time
	# of a connection; libssh2 uses curve25519 anyway)
	GIT_SSH_COMMAND="ssh -F /dev/null -i $SSH_KEY -o IdentitiesOnly=yes -o UserKnownHostsFile=$HOME/.ssh/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o KexAlgorithms=curve25519-sha256"
	export GIT_SSH_COMMAND
}

# stop_servers: TERM, then KILL after 5 s, for every server started.
stop_servers() {
	for _pid in $_srv_pids; do
		kill "$_pid" 2>/dev/null
	done
	for _pid in $_srv_pids; do
		_t=0
		while _srv_alive "$_pid" && [ $_t -lt 100 ]; do
			sleep 0.05
			_t=$((_t + 1))
		done
		_srv_alive "$_pid" && kill -9 "$_pid" 2>/dev/null
		wait "$_pid" 2>/dev/null
	done
	if [ -n "$_srv_watchdog" ]; then
		# A TERM that reaches the watchdog before its trap is set (it was
		# just forked, the script ends at once) can be lost in dash: send
		# it again until the watchdog is gone, then KILL.
		_t=0
		while _srv_alive "$_srv_watchdog" && [ $_t -lt 100 ]; do
			kill "$_srv_watchdog" 2>/dev/null
			sleep 0.05
			_t=$((_t + 1))
		done
		_srv_alive "$_srv_watchdog" && kill -9 "$_srv_watchdog" 2>/dev/null
		wait "$_srv_watchdog" 2>/dev/null
	fi
	_srv_pids=""
	_srv_watchdog=""
	rm -f "$SRV_DIR/pids"
	unset GIT_DAEMON_URL GIT_DAEMON_PORT HTTP_URL HTTPS_URL HTTPS_CA HTTP_AUTH_URL HTTP_CRED_URL HTTP_PORT \
		SSH_URL SSH_SCP_URL SSH_PORT GIT_SSH_COMMAND
	return 0
}

# servers_left: every process whose command line names $SCRATCH (a server
# or a session of one), "PID ARGS" a line; nothing once all are stopped.
servers_left() {
	"$PY" -c 'import os, sys
me = {os.getpid(), os.getppid()}
for p in os.listdir("/proc"):
    if not p.isdigit() or int(p) in me:
        continue
    try:
        with open("/proc/%s/cmdline" % p, "rb") as f:
            args = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        with open("/proc/%s/stat" % p) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                continue
    except OSError:
        continue
    if sys.argv[1] in args:
        print(p, args)' "$SCRATCH"
}

_srv_parent=$$
test_at_end stop_servers
# A signal ends the script through its EXIT trap (lib.sh), which stops them.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Probed in a subshell (lib.sh): a server already started counts; otherwise
# start one there and stop it, the reason left for the skip message.
_srv_probe() { # NAME start-function
	case $2 in
	start_git_daemon) [ -n "${GIT_DAEMON_URL:-}" ] && return 0 ;;
	start_http_server) [ -n "${HTTP_URL:-}" ] && return 0 ;;
	start_sshd) [ -n "${SSH_URL:-}" ] && return 0 ;;
	_srv_start_scp) [ -n "${SSH_SCP_URL:-}" ] && return 0 ;;
	esac
	_srv_pids="" _srv_watchdog=""
	SRV_DIR="$SCRATCH/.servers/probe-$1"
	mkdir -p "$SRV_DIR"
	_home=$HOME
	HOME="$SRV_DIR/home"
	mkdir -p "$HOME"
	"$2" 2>"$SCRATCH/.why-$1"
	_rc=$?
	stop_servers
	HOME=$_home
	[ $_rc -eq 0 ] && rm -f "$SCRATCH/.why-$1"
	return $_rc
}
test_lazy_prereq GIT_DAEMON '_srv_probe GIT_DAEMON start_git_daemon' \
	'git daemon on 127.0.0.1 (apt-get install git)'
test_lazy_prereq HTTP_BACKEND '_srv_probe HTTP_BACKEND start_http_server' \
	'git http-backend behind python3 on 127.0.0.1 (apt-get install git python3)'
test_lazy_prereq HTTPS '_srv_probe HTTPS start_https_server' \
	'git http-backend behind TLS on 127.0.0.1 (apt-get install git openssl python3)'
test_lazy_prereq SSHD '_srv_probe SSHD start_sshd' \
	'OpenSSH sshd on 127.0.0.1 (apt-get install openssh-server)'
_srv_start_scp() {
	start_sshd || return 1
	[ -n "$SSH_SCP_URL" ] ||
		{ say "sshd: no scp-like URL here (needs root and port 22 of 127.0.0.2 free)"; return 1; }
}
test_lazy_prereq SSH_SCP '_srv_probe SSH_SCP _srv_start_scp' \
	'sshd on port 22 of 127.0.0.2 for scp-like URLs (root, apt-get install openssh-server)'

# ---- for the sync tests (t1000, t1005) ----

# Full stacks for LeakSanitizer in a sanitized build, so that the leaks of
# libgit2's ssh transport are told from resque's own (tests/lsan.supp).
ASAN_OPTIONS="${ASAN_OPTIONS:-}:fast_unwind_on_malloc=0"
export ASAN_OPTIONS

# entries BARE / tip_of BARE: the ledger branch of a repository on disk
entries() { git --git-dir="$1" rev-list --count ledger 2>/dev/null || echo 0; }
tip_of() { git --git-dir="$1" rev-parse ledger 2>/dev/null; }

# tamper_tip BARE: the tip entry's bytes changed (one character of its
# body), committed in place of the real one on the same parent.
tamper_tip() {
	_g=$1
	_tree=$(git --git-dir="$_g" rev-parse ledger^{tree}) &&
	_parent=$(git --git-dir="$_g" rev-parse ledger^) &&
	git --git-dir="$_g" cat-file blob "ledger:entry" | sed 's/"message":"/"message":"X/' >"$SCRATCH/tampered" &&
	_blob=$(git --git-dir="$_g" hash-object -w "$SCRATCH/tampered") &&
	_new=$(git --git-dir="$_g" ls-tree "$_tree" | sed "s/[0-9a-f]\{40\}\tentry\$/$_blob\tentry/" |
		git --git-dir="$_g" mktree) &&
	_c=$(echo tampered | git --git-dir="$_g" commit-tree "$_new" -p "$_parent") &&
	git --git-dir="$_g" update-ref refs/heads/ledger "$_c"
}
