#!/usr/bin/python3
# Smart HTTP git server for the tests: `git http-backend` run as a CGI behind
# http.server (standard library only), on 127.0.0.1, fetch and push.
#
#   git-http-server.py ROOT PORTFILE [USER:PASSWORD]
#
# Serves the repositories under ROOT at /NAME.git and, when USER:PASSWORD is
# given, the same ones at /auth/NAME.git behind HTTP basic authentication
# (401 with WWW-Authenticate without the right Authorization). Binds an
# ephemeral port itself (no race with another server) and writes it to
# PORTFILE once it listens. Request bodies may be chunked (libgit2 pushes
# with Transfer-Encoding: chunked) or gzip-encoded (git's client; the backend
# inflates them). One line per request on stderr:
#   METHOD PATH STATUS body=chunked|length|none bytes=N
# With RQ_TLS_CERT and RQ_TLS_KEY (PEM files) in the environment it speaks
# https instead.
import base64
import http.server
import os
import subprocess
import sys
import urllib.parse

ROOT = os.path.abspath(sys.argv[1])
PORTFILE = sys.argv[2]
CREDS = sys.argv[3] if len(sys.argv) > 3 else None
REALM = "resque-test"


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    # Keep-alive: libgit2 and git reuse the connection between requests.
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        """The request body, de-chunked; and how it came."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    raise ConnectionError("body ends inside a chunk header")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # trailers up to the empty line
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                data = self.rfile.read(size)
                if len(data) != size:
                    raise ConnectionError("body ends inside a chunk")
                parts.append(data)
                self.rfile.readline(3)  # CRLF after the chunk
            return b"".join(parts), "chunked"
        n = self.headers.get("Content-Length")
        if n is not None:
            n = int(n)
            data = self.rfile.read(n)
            if len(data) != n:
                raise ConnectionError("body shorter than Content-Length")
            return data, "length"
        return b"", "none"

    def reply(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def authorized(self):
        got = self.headers.get("Authorization", "")
        if not got.startswith("Basic "):
            return None
        try:
            pair = base64.b64decode(got[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return pair.split(":", 1)[0] if pair == CREDS else None

    def handle_git(self):
        try:
            body, how = self.read_body()
        except (ConnectionError, ValueError) as e:
            log("%s %s bad body: %s" % (self.command, self.path, e))
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        user = None
        if path == "/auth" or path.startswith("/auth/"):
            if CREDS is None:
                self.reply(404, [("Content-Type", "text/plain")], b"no authenticated area\n")
                log("%s %s 404 body=%s bytes=%d" % (self.command, self.path, how, len(body)))
                return
            user = self.authorized()
            if user is None:
                self.reply(401, [("WWW-Authenticate", 'Basic realm="%s"' % REALM),
                                 ("Content-Type", "text/plain")], b"authentication required\n")
                log("%s %s 401 body=%s bytes=%d" % (self.command, self.path, how, len(body)))
                return
            path = path[len("/auth"):] or "/"
        env = dict(os.environ)
        env.update({
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "resque-test-git-http-server",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROJECT_ROOT": ROOT,
            "GIT_HTTP_EXPORT_ALL": "1",
            # pushes allowed with or without authentication
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
        })
        for var, header in (("GIT_PROTOCOL", "Git-Protocol"),
                            ("HTTP_CONTENT_ENCODING", "Content-Encoding"),
                            ("HTTP_ACCEPT", "Accept"),
                            ("HTTP_USER_AGENT", "User-Agent")):
            v = self.headers.get(header)
            if v is not None:
                env[var] = v
            else:
                env.pop(var, None)
        if user is not None:
            env["REMOTE_USER"] = user
            env["AUTH_TYPE"] = "Basic"
        else:
            env.pop("REMOTE_USER", None)
        p = subprocess.run(["git", "http-backend"], input=body, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.stderr:
            log("http-backend: " + p.stderr.decode("utf-8", "replace").rstrip())
        out = p.stdout
        end = out.find(b"\r\n\r\n")
        sep = 4
        lf = out.find(b"\n\n")
        if lf >= 0 and (end < 0 or lf < end):
            end, sep = lf, 2
        if p.returncode != 0 and end < 0:
            self.reply(500, [("Content-Type", "text/plain")], b"git http-backend failed\n")
            log("%s %s 500 body=%s bytes=%d" % (self.command, self.path, how, len(body)))
            return
        head, payload = (out[:end], out[end + sep:]) if end >= 0 else (b"", out)
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            if ":" not in line:
                continue
            k, v = line.split(":", 1)
            k, v = k.strip(), v.strip()
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k.lower() not in ("content-length", "transfer-encoding", "connection"):
                headers.append((k, v))
        self.reply(status, headers, payload)
        log("%s %s %d body=%s bytes=%d" % (self.command, self.path, status, how, len(body)))

    do_GET = handle_git
    do_POST = handle_git
    do_HEAD = handle_git


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client closing its connection is no server error: one line
        e = sys.exc_info()[1]
        log("connection from %s:%d: %s" % (client_address[0], client_address[1], e))


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if os.environ.get("RQ_TLS_CERT"):
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.environ["RQ_TLS_CERT"], os.environ["RQ_TLS_KEY"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = PORTFILE + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, PORTFILE)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
