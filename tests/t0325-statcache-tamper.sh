#!/bin/sh
# The stat cache in index.db is not an authority: a row edited to a changed
# file's new stat while keeping the old hash (the attack of issue 11) is a
# miss, so `dataset status` sees the change and `dataset add` signs the true
# fingerprint. Rows carry a MAC keyed by $RESQUE_HOME/statcache.key (checked
# here against Python's keyed BLAKE2b, the encoding of docs/FORMATS.md);
# another user's rows are misses; without a key there is no cache.
. "$(dirname "$0")/lib.sh"

# Independent manifest fingerprint (docs/FORMATS.md; regular files only).
cat >"$SCRATCH/manifest.py" <<'PYEOF'
import hashlib, os, sys
def b2(d): return hashlib.blake2b(d, digest_size=32).hexdigest()
root = os.fsencode(sys.argv[1]); rows = []
for d, dirs, files in os.walk(root):
    for f in files:
        full = os.path.join(d, f); data = open(full, "rb").read()
        rows.append((os.path.relpath(full, root), len(data), b2(data)))
rows.sort()
text = b"resque-manifest v1\n" + b"".join(b"f %d %s %s\n" % (n, h.encode(), p) for p, n, h in rows)
print("b2:" + b2(text))
PYEOF
manifest_fp() { "$PY" "$SCRATCH/manifest.py" "$1"; }

# statcache.py DB FILE ACTION: the row of FILE (an absolute path) in table
# statcache2. save: print its hash and MAC; forge SAVED: set dev, ino, size,
# mtime_ns and ctime_ns to the file's stat, and hash and MAC to the saved
# ones (the attack: the row of the old content, moved to the new stat);
# remac KEY: set the stat to the file's and recompute the MAC with KEY, as
# the key's owner could; check KEY: the row's MAC is the keyed BLAKE2b-256
# of the documented encoding and its hash the file's; hash: print the hash.
cat >"$SCRATCH/statcache.py" <<'PYEOF'
import hashlib, os, sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1]); path = os.fsencode(sys.argv[2]); action = sys.argv[3]
row = db.execute("SELECT dev, ino, size, mtime_ns, ctime_ns, written_ns, hash, mac FROM statcache2"
                 " WHERE path = ?", (path,)).fetchone()
assert row is not None, "no row for %r" % path
def s64(v): return v - (1 << 64) if v >= 1 << 63 else v
def u64(v): return v + (1 << 64) if v < 0 else v
def mac(key, dev, ino, size, mt, ct, wr, h):
    m = b"resque statcache v1\n" + struct.pack("<Q", len(path)) + path
    m += struct.pack("<QQQqqq", u64(dev), u64(ino), u64(size), mt, ct, wr) + h
    return hashlib.blake2b(m, digest_size=32, key=key).digest()
dev, ino, size, mt, ct, wr, h, m = row
if action == "hash":
    print(h.hex())
elif action == "save":
    print(h.hex() + " " + m.hex())
elif action == "check":
    key = open(sys.argv[4], "rb").read(); assert len(key) == 32
    assert m == mac(key, dev, ino, size, mt, ct, wr, h), "mac mismatch"
    assert h == hashlib.blake2b(open(path, "rb").read(), digest_size=32).digest(), "stale hash"
else:
    st = os.stat(path)
    if action == "forge":
        h, m = (bytes.fromhex(x) for x in sys.argv[4].split())
    new = [s64(st.st_dev), s64(st.st_ino), st.st_size, st.st_mtime_ns, st.st_ctime_ns, wr, h]
    new.append(mac(open(sys.argv[4], "rb").read(), *new) if action == "remac" else m)
    n = db.execute("UPDATE statcache2 SET dev=?, ino=?, size=?, mtime_ns=?, ctime_ns=?, written_ns=?,"
                   " hash=?, mac=? WHERE path = ?", new + [path]).rowcount
    db.commit(); assert n == 1, n
PYEOF
sc() { "$PY" "$SCRATCH/statcache.py" "$SCRATCH/proj/.resque/index.db" "$@"; }

old=$(($(date +%s) - 100))
KEY="$RESQUE_HOME/statcache.key"

test_expect_success 'setup: a dataset whose files are in the stat cache' '
	expect_success resque init proj && cd proj &&
	mkdir data && printf "one" >data/a && printf "two" >data/b && printf "333" >data/c &&
	touch -d "@$old" data/a data/b data/c &&
	expect_success resque dataset add data --name before &&
	grep_out "$(manifest_fp data)$" &&
	test -f "$KEY" && test "$(stat -c %a "$KEY")" = 600 && test "$(stat -c %s "$KEY")" = 32 &&
	for f in a b c; do sc "$PWD/data/$f" check "$KEY" || return 1; done
'

test_expect_success 'a row edited to a changed file'"'"'s new stat is a miss' '
	cd proj && saved=$(sc "$PWD/data/a" save) && oldhash=$(sc "$PWD/data/a" hash) &&
	printf "ONE" >data/a && touch -d "@$old" data/a &&
	sc "$PWD/data/a" forge "$saved" && test "$(sc "$PWD/data/a" hash)" = "$oldhash" &&
	state=$(repo_state) &&
	expect_success resque dataset status before &&
	grep_out "^dataset before at data: 0 added, 0 removed, 1 changed$" && grep_out "changed: +a$" &&
	test "$(repo_state)" = "$state" &&
	test "$(sc "$PWD/data/a" hash)" != "$oldhash" && sc "$PWD/data/a" check "$KEY"
'

test_expect_success 'dataset add and fingerprint sign and print the true fingerprint' '
	cd proj && saved=$(sc "$PWD/data/a" save) && printf "uno" >data/a && touch -d "@$old" data/a &&
	sc "$PWD/data/a" forge "$saved" &&
	cp -a data "$SCRATCH/copy" && want=$(manifest_fp data) &&
	expect_success resque fingerprint "$SCRATCH/copy" && test "$(cut -d" " -f1 "$OUT")" = "$want" &&
	sc "$PWD/data/a" forge "$saved" &&
	expect_success resque fingerprint data && test "$(cut -d" " -f1 "$OUT")" = "$want" &&
	sc "$PWD/data/a" forge "$saved" &&
	expect_success resque dataset add data --name after && grep_out "$want$" &&
	expect_success resque dataset show after --json &&
	test "$(json_get "$OUT" "d[\"fingerprint\"]")" = "$want" &&
	expect_success resque verify
'

test_expect_success 'a refused command leaves the repository as it was' '
	cd proj && saved=$(sc "$PWD/data/b" save) && printf "TWO" >data/b && touch -d "@$old" data/b &&
	sc "$PWD/data/b" forge "$saved" && state=$(repo_state) &&
	expect_error 1 "after" resque dataset add data --name after &&
	test "$(repo_state)" = "$state" &&
	expect_success resque dataset status after && grep_out "changed: +b$" &&
	test "$(repo_state)" = "$state"
'

test_expect_success 'a row with a valid MAC is used: the cache still works' '
	cd proj && expect_success resque dataset status after && grep_out "changed: +b$" &&
	printf "two" >data/b && touch -d "@$old" data/b &&
	expect_success resque dataset status after && grep_out "unchanged" &&
	printf "TWO" >data/b && touch -d "@$old" data/b &&
	sc "$PWD/data/b" remac "$KEY" &&
	expect_success resque dataset status after && grep_out "unchanged"
'

test_expect_success 'another user'"'"'s rows are misses, and then rewritten' '
	cd proj && printf "two" >data/b && touch -d "@$old" data/b &&
	expect_success resque dataset status after && grep_out "unchanged" &&
	printf "TWO" >data/b && touch -d "@$old" data/b &&
	mkdir -p "$SCRATCH/other" && head -c 32 /dev/urandom >"$SCRATCH/other/statcache.key" &&
	chmod 600 "$SCRATCH/other/statcache.key" &&
	sc "$PWD/data/b" remac "$SCRATCH/other/statcache.key" &&
	expect_success resque dataset status after && grep_out "changed: +b$" &&
	sc "$PWD/data/b" check "$KEY" &&
	printf "two" >data/b && touch -d "@$old" data/b &&
	RESQUE_HOME="$SCRATCH/other" resque fingerprint data >../out &&
	sc "$PWD/data/b" check "$SCRATCH/other/statcache.key" && sc "$PWD/data/a" check "$SCRATCH/other/statcache.key" &&
	test "$(cut -d" " -f1 ../out)" = "$(manifest_fp data)"
'

test_expect_success 'without a usable key the cache is not used, silently' '
	cd proj && printf "bbb" >data/b && touch -d "@$old" data/b && sc "$PWD/data/b" remac "$KEY" &&
	want=$(manifest_fp data) && printf x >"$SCRATCH/file" &&
	RESQUE_HOME="$SCRATCH/file/home" resque fingerprint data >../out 2>../err &&
	test "$(cut -d" " -f1 ../out)" = "$want" && test ! -s ../err &&
	(unset RESQUE_HOME XDG_CONFIG_HOME HOME; resque fingerprint data) >../out 2>../err &&
	test "$(cut -d" " -f1 ../out)" = "$want" && test ! -s ../err &&
	sc "$PWD/data/b" remac "$KEY" && chmod 644 "$KEY" &&
	expect_success resque fingerprint data && test "$(cut -d" " -f1 "$OUT")" = "$want" &&
	expect_success resque dataset status after && grep_out "changed: +b$" &&
	grep_err "statcache.key: not a file of yours that only you can read; the stat cache is not used" &&
	chmod 600 "$KEY"
'

test_expect_success 'an index.db from before the MAC: table statcache is dropped, not an error' '
	cd proj && "$PY" - .resque/index.db <<-PYEOF &&
	import sqlite3, sys
	db = sqlite3.connect(sys.argv[1])
	db.execute("DROP TABLE statcache2")
	db.execute("CREATE TABLE statcache(path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
	           " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,"
	           " written_ns INTEGER NOT NULL, hash BLOB NOT NULL) WITHOUT ROWID")
	db.commit()
	PYEOF
	expect_success resque fingerprint data && test "$(cut -d" " -f1 "$OUT")" = "$(manifest_fp data)" &&
	test "$("$PY" -c "import sqlite3,sys; print(sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"SELECT name FROM sqlite_master WHERE name LIKE '"'"'statcache%'"'"'\")))" .resque/index.db)" = "['"'"'statcache2'"'"']" &&
	sc "$PWD/data/b" check "$KEY" &&
	expect_success resque verify
'

test_done
