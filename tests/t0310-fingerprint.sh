#!/bin/sh
# resque fingerprint: files against b2sum -l 256, directories against an
# independent manifest in Python (hashlib.blake2b), links, special files,
# errors, and the stat cache with its racily-clean rule.
. "$(dirname "$0")/lib.sh"
test_requires B2SUM

# The reference: walk, sort by path bytes, escape, hash (docs/FORMATS.md).
cat >"$SCRATCH/manifest.py" <<'PYEOF'
import hashlib, os, stat, sys, json

def b2(data):
    return hashlib.blake2b(data, digest_size=32).hexdigest()

def esc(p):
    out = bytearray()
    for c in p:
        if c == 0x5c: out += b"\\\\"
        elif c == 0x0a: out += b"\\n"
        elif c < 0x20 or c == 0x7f: out += b"\\x%02x" % c
        else: out.append(c)
    return bytes(out)

def manifest(root):
    root = os.fsencode(root)
    rows = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != b".resque" and not os.path.islink(os.path.join(d, x))]
        names = files + [x for x in os.listdir(d) if os.path.islink(os.path.join(d, x)) and x not in files]
        for f in names:
            full = os.path.join(d, f)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                t = os.readlink(full)
                rows.append((rel, b"l", len(t), b2(t)))
            elif stat.S_ISREG(st.st_mode):
                data = open(full, "rb").read()
                rows.append((rel, b"f", len(data), b2(data)))
    rows.sort(key=lambda r: r[0])
    text = b"resque-manifest v1\n" + b"".join(
        b"%s %d %s %s\n" % (k, n, h.encode(), esc(p)) for p, k, n, h in rows)
    return text, rows

mode, root = sys.argv[1], sys.argv[2]
text, rows = manifest(root)
if mode == "text":
    sys.stdout.buffer.write(text)
elif mode == "fp":
    print("b2:" + b2(text))
elif mode == "json":
    print(json.dumps({"fingerprint": "b2:" + b2(text), "files": len(rows),
                      "bytes": sum(r[2] for r in rows)}))
PYEOF
manifest() { "$PY" "$SCRATCH/manifest.py" "$@"; }

test_expect_success 'files: the fingerprint is b2sum -l 256 of the bytes' '
	: >empty && printf a >one && head -c 1048577 /dev/urandom >mib &&
	head -c 3000001 /dev/urandom >big && printf "x\ny\n" >"with space" &&
	for f in empty one mib big "with space"; do
		expect_success resque fingerprint "$f" &&
		want="b2:$(b2sum -l 256 "$f" | cut -d" " -f1)  $f" &&
		test "$(cat "$OUT")" = "$want" || { say "$f: $(cat "$OUT") != $want"; return 1; }
	done
'

test_expect_success 'files: --json has path, fingerprint, bytes and files' '
	expect_success resque fingerprint --json mib &&
	test "$(json_get "$OUT" "d[\"fingerprint\"]")" = "b2:$(b2sum -l 256 mib | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "d[\"bytes\"]")" = "$(stat -c %s mib)" &&
	test "$(json_get "$OUT" "d[\"files\"]")" = 1 &&
	test "$(json_get "$OUT" "d[\"path\"]")" = mib &&
	test "$(json_get "$OUT" "sorted(d)")" = "[$(printf "%s" "'"'"'bytes'"'"', '"'"'files'"'"', '"'"'fingerprint'"'"', '"'"'path'"'"'")]"
'

test_expect_success 'a symbolic link given as PATH is followed' '
	ln -s mib mib-link &&
	expect_success resque fingerprint mib-link &&
	grep_out "^b2:$(b2sum -l 256 mib | cut -d" " -f1)  mib-link$"
'

test_expect_success 'directories: manifest and fingerprint match an independent computation' '
	mkdir -p tree/a/deep/er tree/b tree/empty-dir tree/.resque &&
	head -c 70000 /dev/urandom >tree/a/deep/er/blob &&
	printf "1" >tree/a.txt && printf "22" >"tree/a b" && : >tree/b/zero &&
	printf "x" >"$(printf "tree/new\nline")" && printf "y" >"tree/back\\slash" &&
	printf "z" >"$(printf "tree/tab\there")" && printf "u" >"tree/$(printf "\303\251t\303\251")" &&
	printf "n" >"tree/$(printf "raw\377byte")" &&
	printf "ignored" >tree/.resque/index.db &&
	ln -s a.txt tree/link-file && ln -s a tree/link-dir && ln -s /nonexistent/x tree/dangling &&
	expect_success resque fingerprint --manifest tree && cp "$OUT" got.manifest &&
	manifest text tree >want.manifest && compare want.manifest got.manifest &&
	expect_success resque fingerprint tree &&
	test "$(cut -d" " -f1 "$OUT")" = "$(manifest fp tree)" &&
	expect_success resque fingerprint --json tree &&
	manifest json tree >want.json &&
	for k in fingerprint files bytes; do
		test "$(json_get "$OUT" "d[\"$k\"]")" = "$(json_get want.json "d[\"$k\"]")" || return 1
	done &&
	test "$(json_get "$OUT" "d[\"files\"]")" = 12
'

test_expect_success 'links are recorded as links, not followed' '
	grep -q "^l 5 $(printf a.txt | b2sum -l 256 | cut -d" " -f1) link-file$" got.manifest &&
	grep -q "^l 1 [0-9a-f]* link-dir$" got.manifest &&
	! grep -q "link-dir/" got.manifest &&
	grep -q "^l 14 [0-9a-f]* dangling$" got.manifest
'

test_expect_success 'the fingerprint does not depend on how the path is spelled' '
	a=$(resque fingerprint tree | cut -d" " -f1) &&
	b=$(resque fingerprint tree/ | cut -d" " -f1) &&
	c=$(cd tree && resque fingerprint . | cut -d" " -f1) &&
	d=$(resque fingerprint "$PWD/tree//" | cut -d" " -f1) &&
	test "$a" = "$b" && test "$a" = "$c" && test "$a" = "$d"
'

test_expect_success 'any change of content, name or link target changes the fingerprint' '
	cp -a tree t2 && a=$(resque fingerprint t2 | cut -d" " -f1) &&
	printf "2" >t2/a.txt && b=$(resque fingerprint t2 | cut -d" " -f1) && test "$a" != "$b" &&
	mv t2/b/zero t2/b/zero2 && c=$(resque fingerprint t2 | cut -d" " -f1) && test "$b" != "$c" &&
	ln -sf a.tx t2/link-file && d=$(resque fingerprint t2 | cut -d" " -f1) && test "$c" != "$d" &&
	test "$d" = "$(manifest fp t2)"
'

test_expect_success 'an empty directory is the manifest header alone' '
	mkdir void && expect_success resque fingerprint --json void &&
	test "$(json_get "$OUT" "d[\"fingerprint\"]")" = "b2:$(printf "resque-manifest v1\n" | b2sum -l 256 | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "d[\"files\"]")" = 0 && test "$(json_get "$OUT" "d[\"bytes\"]")" = 0
'

test_expect_success 'special files are refused with a message naming them' '
	mkdir sp && printf x >sp/ok && mkfifo sp/pipe &&
	expect_error 1 "sp/pipe: is a fifo; only regular files, directories and symbolic links" resque fingerprint sp &&
	test ! -s "$OUT" &&
	expect_error 1 "sp/pipe: is a fifo" resque fingerprint sp/pipe &&
	expect_error 1 "/dev/null: is a character device" resque fingerprint /dev/null &&
	mkdir so && "$PY" -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" so/sock &&
	expect_error 1 "so/sock: is a socket" resque fingerprint so
'

test_expect_success 'missing paths and unreadable files are errors naming the file' '
	expect_error 1 "nope: no such file or directory" resque fingerprint nope &&
	expect_error 1 "tree/nope: no such file or directory" resque fingerprint tree/nope &&
	mkdir locked && printf secret >locked/f && chmod 000 locked/f &&
	if [ "$(id -u)" = 0 ]; then
		chmod 755 "$SCRATCH" "$SCRATCH/locked" &&
		expect_error 1 "locked/f: permission denied" setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$(command -v resque)" fingerprint locked
	else
		expect_error 1 "locked/f: permission denied" resque fingerprint locked
	fi
'

test_expect_success 'usage errors exit 2' '
	expect_failure 2 resque fingerprint &&
	expect_failure 2 resque fingerprint --json --manifest tree &&
	expect_failure 2 resque fingerprint --bogus tree &&
	expect_error 1 "mib: not a directory" resque fingerprint --manifest mib &&
	expect_success resque fingerprint --help && grep_out "^usage: resque fingerprint"
'

# The stat cache: ages files so cache entries are not racy, then poisons the
# cached hashes to prove which ones are used. The poisoned rows are given a
# valid MAC with the user's key (docs/FORMATS.md), as only its owner can:
# rows with a bad MAC are never used (t0325).
poison() { # repo
	"$PY" - "$1/.resque/index.db" "$RESQUE_HOME/statcache.key" <<-PYEOF
	import hashlib, sqlite3, struct, sys
	db = sqlite3.connect(sys.argv[1]); key = open(sys.argv[2], "rb").read()
	u = lambda v: v + (1 << 64) if v < 0 else v
	rows = db.execute("SELECT path, dev, ino, size, mtime_ns, ctime_ns, written_ns FROM statcache2").fetchall()
	for p, dev, ino, size, mt, ct, wr in rows:
	    h = bytes(32)
	    m = b"resque statcache v1\n" + struct.pack("<Q", len(p)) + p
	    m += struct.pack("<QQQqqq", u(dev), u(ino), u(size), mt, ct, wr) + h
	    mac = hashlib.blake2b(m, digest_size=32, key=key).digest()
	    db.execute("UPDATE statcache2 SET hash = ?, mac = ? WHERE path = ?", (h, mac, p))
	db.commit()
	assert len(rows) > 0
	PYEOF
}

test_expect_success 'inside a repository, unchanged files come from the stat cache' '
	expect_success resque init repo && cp -a tree repo/data &&
	find repo/data -exec touch -h -d "@$(($(date +%s) - 100))" {} + &&
	want=$(manifest fp repo/data) &&
	(cd repo && resque fingerprint data >../out1) && test "$(cut -d" " -f1 out1)" = "$want" &&
	poison repo &&
	(cd repo && resque fingerprint data >../out2) && test "$(cut -d" " -f1 out2)" != "$want" &&
	(cd repo && resque fingerprint --rehash data >../out3) && test "$(cut -d" " -f1 out3)" = "$want" &&
	expect_success resque fingerprint repo/data && test "$(cut -d" " -f1 "$OUT")" = "$want"
'

test_expect_success 'a file rewritten with the same size and mtime is re-hashed (ctime)' '
	(cd repo && resque fingerprint --rehash data >/dev/null) &&
	m=$(stat -c %Y repo/data/a.txt) && printf "9" >repo/data/a.txt && touch -d "@$m" repo/data/a.txt &&
	(cd repo && resque fingerprint data >../out4) &&
	test "$(cut -d" " -f1 out4)" = "$(manifest fp repo/data)"
'

test_expect_success 'racily clean: an mtime not older than the cache entry is never trusted' '
	mkdir repo/racy && printf abc >repo/racy/f && touch -d "@$(($(date +%s) + 3600))" repo/racy/f &&
	want=$(manifest fp repo/racy) &&
	(cd repo && resque fingerprint racy >/dev/null) && poison repo &&
	(cd repo && resque fingerprint racy >../out5) && test "$(cut -d" " -f1 out5)" = "$want"
'

test_expect_success 'a broken index.db does not stop fingerprinting' '
	printf "garbage" >repo/.resque/index.db && rm -f repo/.resque/index.db-wal repo/.resque/index.db-shm &&
	(cd repo && resque fingerprint data >../out6) &&
	test "$(cut -d" " -f1 out6)" = "$(manifest fp repo/data)"
'

test_expect_success 'no progress bar when stderr is not a terminal' '
	expect_success resque fingerprint big && test ! -s "$ERR"
'

test_expect_success SCRIPT 'a progress bar on a terminal, erased at the end' '
	script -qec "resque fingerprint big" /dev/null >tty.out &&
	grep -q "fingerprinting \[[#.]*\] .*1 files" tty.out &&
	tail -1 tty.out | grep -q "^.*$(b2sum -l 256 big | cut -c1-64)  big"
'

test_done
