#!/bin/sh
# resque dataset add|show|status: the entry and its manifest attachment
# against an independent computation, names, paths, the class histogram,
# status after changes (also within the same second), and bad inputs.
. "$(dirname "$0")/lib.sh"
test_requires B2SUM NUMPY

# Independent manifest (same rules as docs/FORMATS.md) and its fingerprint.
cat >"$SCRATCH/manifest.py" <<'PYEOF'
import hashlib, os, stat, sys
def b2(d): return hashlib.blake2b(d, digest_size=32).hexdigest()
root = os.fsencode(sys.argv[2]); rows = []
for d, dirs, files in os.walk(root):
    dirs[:] = [x for x in dirs if x != b".resque" and not os.path.islink(os.path.join(d, x))]
    for f in files:
        full = os.path.join(d, f); st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            t = os.readlink(full); rows.append((os.path.relpath(full, root), b"l", len(t), b2(t)))
        elif stat.S_ISREG(st.st_mode):
            data = open(full, "rb").read(); rows.append((os.path.relpath(full, root), b"f", len(data), b2(data)))
rows.sort()
text = b"resque-manifest v1\n" + b"".join(b"%s %d %s %s\n" % (k, n, h.encode(), p) for p, k, n, h in rows)
if sys.argv[1] == "text": sys.stdout.buffer.write(text)
elif sys.argv[1] == "fp": print("b2:" + b2(text))
elif sys.argv[1] == "files": print(len(rows))
elif sys.argv[1] == "bytes": print(sum(r[2] for r in rows))
PYEOF
manifest() { "$PY" "$SCRATCH/manifest.py" "$@"; }

test_expect_success 'setup: a repository and a dataset tree' '
	expect_success resque init proj && cd proj &&
	mkdir -p data/train/cats data/train/dogs data/other &&
	for i in 1 2 3 4 5; do head -c $((i * 1000)) /dev/urandom >data/train/cats/c$i.jpg || return 1; done &&
	for i in 1 2 3; do head -c $((i * 777)) /dev/urandom >data/train/dogs/d$i.jpg || return 1; done &&
	ln -s cats/c1.jpg data/train/first && printf "o" >data/other/o
'

test_expect_success 'dataset add records fingerprint, counts and path relative to the root' '
	cd proj && expect_success resque dataset add data/train &&
	grep_out "^[0-9a-f]{12} dataset train: 9 files, $(manifest bytes data/train) bytes, $(manifest fp data/train)$" &&
	expect_success resque dataset show train --json &&
	test "$(json_get "$OUT" "d[\"name\"]")" = train &&
	test "$(json_get "$OUT" "d[\"type\"]")" = dataset &&
	test "$(json_get "$OUT" "d[\"path\"]")" = data/train &&
	test "$(json_get "$OUT" "d[\"fingerprint\"]")" = "$(manifest fp data/train)" &&
	test "$(json_get "$OUT" "d[\"files\"]")" = "$(manifest files data/train)" &&
	test "$(json_get "$OUT" "d[\"bytes\"]")" = "$(manifest bytes data/train)" &&
	test "$(json_get "$OUT" "\"classes\" in d")" = False
'

test_expect_success 'the manifest attachment is readable with git and matches' '
	cd proj && git --git-dir=.resque show ledger:att/manifest >got &&
	manifest text data/train >want && compare want got &&
	git --git-dir=.resque show ledger:entry >entry &&
	"$PY" - entry got <<-PYEOF
	import json, sys, hashlib
	e = json.load(open(sys.argv[1]))
	att = e["body"]["attachments"]["manifest"]
	data = open(sys.argv[2], "rb").read()
	assert att["bytes"] == len(data), att
	assert att["fingerprint"] == "b2:" + hashlib.blake2b(data, digest_size=32).hexdigest()
	assert e["body"]["fingerprint"] == att["fingerprint"]
	PYEOF
'

test_expect_success 'show: text, --files and by id prefix' '
	cd proj && expect_success resque dataset show train &&
	grep_out "^path +data/train$" && grep_out "^files +9$" &&
	id=$(resque dataset show train --json | json_get /dev/stdin "d[\"id\"]") &&
	expect_success resque dataset show "$(echo "$id" | cut -c1-8)" --files &&
	grep_out "^file +1000  b2:$(b2sum -l 256 data/train/cats/c1.jpg | cut -d" " -f1)  cats/c1.jpg$" &&
	grep_out "^link +11  b2:[0-9a-f]{64}  first$" &&
	expect_success resque dataset show train --files --json &&
	test "$(json_get "$OUT" "len(d[\"manifest\"])")" = 9 &&
	test "$(json_get "$OUT" "[m[\"kind\"] for m in d[\"manifest\"] if m[\"path\"] == \"first\"][0]")" = link
'

test_expect_success 'status of an unchanged tree is clean' '
	cd proj && expect_success resque dataset status train &&
	grep_out "^dataset train at data/train: unchanged" &&
	expect_success resque dataset status train --json &&
	test "$(json_get "$OUT" "d[\"clean\"]")" = True &&
	test "$(json_get "$OUT" "d[\"recorded\"] == d[\"current\"]")" = True
'

test_expect_success 'status lists added, removed and changed files' '
	cd proj && cp -a data/train data/train.orig &&
	printf "new" >data/train/dogs/d9.jpg && rm data/train/cats/c2.jpg &&
	head -c 10 /dev/urandom >data/train/cats/c3.jpg && ln -sf cats/c4.jpg data/train/first &&
	expect_success resque dataset status train &&
	grep_out "^dataset train at data/train: 1 added, 1 removed, 2 changed$" &&
	grep_out "added: +dogs/d9.jpg$" && grep_out "removed: +cats/c2.jpg$" &&
	grep_out "changed: +cats/c3.jpg$" && grep_out "changed: +first$" &&
	expect_success resque dataset status train --json &&
	test "$(json_get "$OUT" "(d[\"added\"], d[\"removed\"], d[\"changed\"], d[\"clean\"])")" = \
		"([$(printf "%s" "'"'"'dogs/d9.jpg'"'"'")], [$(printf "%s" "'"'"'cats/c2.jpg'"'"'")], [$(printf "%s" "'"'"'cats/c3.jpg'"'"', '"'"'first'"'"'")], False)" &&
	test "$(json_get "$OUT" "d[\"current\"]")" = "$(manifest fp data/train)" &&
	rm -rf data/train && mv data/train.orig data/train &&
	expect_success resque dataset status train && grep_out "unchanged"
'

test_expect_success 'racily clean: same size, same second, still seen as changed' '
	cd proj && mkdir quick && printf "aaaa" >quick/f && printf "bbbb" >quick/g &&
	expect_success resque dataset add quick &&
	printf "zzzz" >quick/f &&
	expect_success resque dataset status quick && grep_out "changed: +f$" &&
	m=$(stat -c %Y quick/g) && printf "cccc" >quick/g && touch -d "@$m" quick/g &&
	expect_success resque dataset status quick --json &&
	test "$(json_get "$OUT" "sorted(d[\"changed\"])")" = "[$(printf "%s" "'"'"'f'"'"', '"'"'g'"'"'")]"
'

test_expect_success 'status from a subdirectory resolves the recorded path from the root' '
	cd proj/data/train/cats && expect_success resque dataset status train && grep_out "unchanged"
'

test_expect_success 'the name defaults to the base name; --name; paths from elsewhere' '
	cd proj/data && expect_success resque dataset add --name other-set ./other &&
	expect_success resque dataset show other-set --json &&
	test "$(json_get "$OUT" "d[\"path\"]")" = data/other &&
	mkdir -p "$SCRATCH/outside/ext" && printf 1 >"$SCRATCH/outside/ext/x" &&
	expect_success resque dataset add "$SCRATCH/outside/ext" &&
	expect_success resque dataset show ext --json &&
	test "$(json_get "$OUT" "d[\"path\"]")" = "$(cd "$SCRATCH/outside/ext" && pwd -P)"
'

test_expect_success 'an empty dataset directory can be recorded' '
	cd proj && mkdir empty-set && expect_success resque dataset add empty-set --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"files\"]")" = 0 &&
	test "$(json_get "$OUT" "d[\"body\"][\"fingerprint\"]")" = "b2:$(printf "resque-manifest v1\n" | b2sum -l 256 | cut -d" " -f1)"
'

test_expect_success 'labels: the class histogram and the labels fingerprint' '
	cd proj && "$PY" -c "
import numpy as np
rng = np.random.default_rng(7)
np.save(\"labels.npy\", rng.integers(-2, 5, size=1000).astype(np.int32))" &&
	expect_success resque dataset add data/train --name labelled --labels labels.npy &&
	expect_success resque dataset show labelled --json &&
	"$PY" - "$OUT" <<-PYEOF
	import json, sys, hashlib, numpy as np
	d = json.load(open(sys.argv[1]))
	y = np.load("labels.npy")
	vals, counts = np.unique(y, return_counts=True)
	want = {str(int(v)): int(c) for v, c in zip(vals, counts)}
	assert d["classes"] == want, (d["classes"], want)
	assert d["labels"]["path"] == "labels.npy", d["labels"]
	fp = "b2:" + hashlib.blake2b(open("labels.npy", "rb").read(), digest_size=32).hexdigest()
	assert d["labels"]["fingerprint"] == fp
	PYEOF
'

test_expect_success 'a name in use is refused and nothing changes' '
	cd proj && repo_state >before &&
	expect_error 1 "dataset name '"'"'train'"'"' is already in use" resque dataset add data/other --name train &&
	repo_state >after && compare before after
'

test_expect_success 'bad inputs are refused with a message and nothing changes' '
	cd proj && repo_state >before &&
	expect_error 1 "nowhere: no such file or directory" resque dataset add nowhere &&
	expect_error 1 "labels.npy: not a directory" resque dataset add labels.npy &&
	expect_error 1 "cannot name a dataset" resque dataset add data/other --name "bad name" &&
	expect_error 1 "cannot name a dataset" resque dataset add data/other --name ../x &&
	expect_error 1 "missing.npy" resque dataset add data/other --name o2 --labels missing.npy &&
	printf "not an array" >bad.npy &&
	expect_error 1 "bad.npy" resque dataset add data/other --name o3 --labels bad.npy &&
	mkdir -p withfifo && mkfifo withfifo/p &&
	expect_error 1 "withfifo/p: is a fifo" resque dataset add withfifo &&
	repo_state >after && compare before after
'

test_expect_success 'an unreadable labels file is refused and nothing changes' '
	cd proj && repo_state >before && cp labels.npy locked.npy && chmod 000 locked.npy &&
	if [ "$(id -u)" = 0 ]; then
		# root reads anything: make the path unreadable instead (a directory)
		rm -f locked.npy && mkdir locked.npy
	fi &&
	expect_error 1 "locked.npy" resque dataset add data/other --name o4 --labels locked.npy &&
	repo_state >after && compare before after
'

test_expect_success 'show and status of unknown datasets; a vanished directory' '
	cd proj && expect_error 1 "named or identified by '"'nothing'"'" resque dataset show nothing &&
	expect_error 1 "named or identified by '"'nothing'"'" resque dataset status nothing &&
	mv data/other data/other.moved &&
	expect_error 1 "data/other: the directory of dataset other-set is gone" resque dataset status other-set &&
	mv data/other.moved data/other
'

test_expect_success 'usage errors exit 2' '
	cd proj && expect_failure 2 resque dataset &&
	expect_failure 2 resque dataset frobnicate && grep_err "not a subcommand" &&
	expect_failure 2 resque dataset add &&
	expect_failure 2 resque dataset add data --tensor x &&
	expect_failure 2 resque dataset status &&
	expect_success resque dataset add --help && grep_out "^usage: resque dataset add"
'

test_expect_success 'outside a repository, dataset commands say so' '
	mkdir norepo && cd norepo && mkdir d &&
	expect_failure 1 resque dataset add d && grep_err "repository"
'

test_expect_success 'the ledger verifies after the adds' '
	cd proj && expect_success resque verify &&
	test "$(resque log --type dataset --json | json_get /dev/stdin "len(d)")" = 6
'

test_done
