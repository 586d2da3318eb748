#!/bin/sh
# resque summarize: per-class counts and sums (and the Gram matrix) against
# numpy, the .rqs layout read back by an independent Python parser, exact
# merging of shards, and every bad-input path.
. "$(dirname "$0")/lib.sh"
test_requires B2SUM NUMPY

# An independent reader of the .rqs format (docs/FORMATS.md) in Python.
cat >rqs.py <<'PY'
import hashlib, struct, sys
import numpy as np
def read(path):
    b = open(path, 'rb').read()
    assert b[:8] == b'RQSUMMRY', 'magic'
    assert hashlib.blake2b(b[:-32], digest_size=32).digest() == b[-32:], 'checksum'
    ver, mom, d, k, n = struct.unpack_from('<IIQQQ', b, 8)
    off = 40
    labels, counts, sums = [], [], []
    for _ in range(k):
        lab, cnt = struct.unpack_from('<qQ', b, off)
        labels.append(lab); counts.append(cnt)
        sums.append(np.frombuffer(b, '<f8', d, off + 16)); off += 16 + 8 * d
    total = gram = None
    if mom == 2:
        total = np.frombuffer(b, '<f8', d, off); off += 8 * d
        tri = np.frombuffer(b, '<f8', d * (d + 1) // 2, off); off += 8 * len(tri)
        gram = np.zeros((d, d)); gram[np.triu_indices(d)] = tri
        gram = gram + np.triu(gram, 1).T
    assert off + 32 == len(b), 'length'
    return dict(version=ver, moments=mom, d=d, k=k, n=n, labels=labels,
                counts=counts, sums=np.array(sums), total=total, gram=gram)
def close(a, b, rel=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.all(np.abs(a - b) <= rel * np.maximum(np.abs(b), 1e-300) + 1e-300)
PY

# fixture.py OUT SEED N D K DTYPE: embeddings OUT.npy and labels OUT-y.npy.
cat >fixture.py <<'PY'
import sys, numpy as np
out, seed, n, d, k, dt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
rng = np.random.default_rng(seed)
centres = rng.normal(0, 1, (k, d))
values = np.sort(rng.choice(np.arange(-1000, 1000), k, replace=False))
idx = rng.integers(0, k, n)
np.save(out + '.npy', (centres[idx] + rng.normal(0, 2, (n, d))).astype(dt))
np.save(out + '-y.npy', values[idx].astype(np.int32))
PY

check_summary() { # RQS EMB LABELS: compare with numpy in float64
	"$PY" -c '
import sys, numpy as np; sys.path.insert(0, ".")
import rqs
s = rqs.read(sys.argv[1])
X = np.load(sys.argv[2]).astype(np.float64); y = np.load(sys.argv[3])
labs = np.unique(y)
assert s["labels"] == list(labs), (s["labels"], labs)
assert s["counts"] == [int((y == v).sum()) for v in labs]
assert s["n"] == len(y) and s["d"] == X.shape[1] and s["k"] == len(labs)
want = np.stack([X[y == v].sum(axis=0) for v in labs])
assert rqs.close(s["sums"], want), abs(s["sums"] - want).max()
if s["moments"] == 2:
    assert rqs.close(s["total"], X.sum(axis=0))
    G = X.T @ X
    assert np.all(np.abs(s["gram"] - G) <= 1e-12 * np.abs(G).max()), abs(s["gram"] - G).max()
' "$@"
}

test_expect_success 'summary of float32 embeddings equals numpy (counts, sums)' '
	"$PY" fixture.py a 1 2000 16 7 float32 &&
	expect_success resque summarize a.npy --labels a-y.npy -o a.rqs &&
	grep_out "a.rqs: 2000 rows, 7 classes, dimension 16, moments 1" &&
	check_summary a.rqs a.npy a-y.npy
'

test_expect_success 'default output name, float64 input and --json fingerprint = b2sum' '
	"$PY" fixture.py b 2 500 5 3 float64 &&
	expect_success resque summarize --json b.npy --labels b-y.npy &&
	test -f b.rqs &&
	check_summary b.rqs b.npy b-y.npy &&
	test "$(json_get "$OUT" "d[\"fingerprint\"]")" = "b2:$(b2sum -l 256 b.rqs | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "d[\"rows\"], d[\"classes\"], d[\"dim\"], d[\"bytes\"]")" = "(500, 3, 5, $(wc -c <b.rqs))"
'

test_expect_success '--moments 2 adds the total and the Gram matrix (dsyrk) equal to X^T X' '
	expect_success resque summarize a.npy --labels a-y.npy --moments 2 -o a2.rqs &&
	check_summary a2.rqs a.npy a-y.npy &&
	"$PY" -c "import sys; sys.path.insert(0, \".\"); import rqs; assert rqs.read(\"a2.rqs\")[\"moments\"] == 2"
'

test_expect_success 'merging shards equals the summary of the whole data set' '
	"$PY" -c "
import numpy as np
X = np.load(\"a.npy\"); y = np.load(\"a-y.npy\")
for i, (s, e) in enumerate([(0, 700), (700, 701), (701, 2000)]):
    np.save(\"shard%d.npy\" % i, X[s:e]); np.save(\"shard%d-y.npy\" % i, y[s:e])
" &&
	for i in 0 1 2; do
		expect_success resque summarize shard$i.npy --labels shard$i-y.npy --moments 2 || return 1
		expect_success resque summarize shard$i.npy --labels shard$i-y.npy -o m1-$i.rqs || return 1
	done &&
	expect_success resque summarize --merge shard2.rqs shard0.rqs shard1.rqs -o merged2.rqs &&
	grep_out "merged2.rqs: 2000 rows, 7 classes, dimension 16, moments 2" &&
	check_summary merged2.rqs a.npy a-y.npy &&
	expect_success resque summarize --merge m1-0.rqs m1-1.rqs m1-2.rqs -o merged1.rqs &&
	check_summary merged1.rqs a.npy a-y.npy &&
	"$PY" -c "
import sys; sys.path.insert(0, \".\"); import rqs
a, b = rqs.read(\"merged2.rqs\"), rqs.read(\"a2.rqs\")
assert a[\"counts\"] == b[\"counts\"] and a[\"labels\"] == b[\"labels\"]
assert rqs.close(a[\"sums\"], b[\"sums\"]) and rqs.close(a[\"gram\"], b[\"gram\"])
"
'

test_expect_success 'a shard with a single row and a class of its own merges' '
	"$PY" -c "
import numpy as np
np.save(\"one.npy\", np.full((1, 16), 0.25, np.float32)); np.save(\"one-y.npy\", np.array([123456789012], np.int64))
" &&
	expect_success resque summarize one.npy --labels one-y.npy -o one.rqs &&
	expect_success resque summarize --merge a.rqs one.rqs -o a1.rqs &&
	grep_out "2001 rows, 8 classes" &&
	"$PY" -c "
import sys; sys.path.insert(0, \".\"); import rqs
s = rqs.read(\"a1.rqs\"); i = s[\"labels\"].index(123456789012)
assert s[\"counts\"][i] == 1 and all(s[\"sums\"][i] == 0.25) and s[\"labels\"] == sorted(s[\"labels\"])
"
'

test_expect_success 'usage errors exit 2' '
	expect_error 2 "needs the labels" resque summarize a.npy &&
	expect_error 2 "--moments must be 1 or 2, not 3" resque summarize a.npy --labels a-y.npy --moments 3 &&
	expect_error 2 "--merge needs an output file" resque summarize --merge a.rqs b.rqs &&
	expect_error 2 "--merge takes summaries only" resque summarize --merge a.rqs --labels a-y.npy -o x.rqs &&
	expect_error 2 "give one embeddings file" resque summarize a.npy b.npy --labels a-y.npy &&
	expect_failure 2 resque summarize --labels a-y.npy &&
	test ! -e x.rqs
'

test_expect_success 'bad inputs are refused with the file and the reason, nothing written' '
	expect_error 1 "b-y.npy" resque summarize a.npy --labels b-y.npy -o bad.rqs &&
	expect_error 1 "nope.npy" resque summarize nope.npy --labels a-y.npy -o bad.rqs &&
	expect_error 1 "b.rqs: dimension 5 differs from 16" resque summarize --merge a.rqs b.rqs -o bad.rqs &&
	expect_error 1 "a.rqs has moments 1 but a2.rqs has moments 2" resque summarize --merge a2.rqs a.rqs -o bad.rqs &&
	head -c 100 a.rqs >trunc.rqs &&
	expect_error 1 "trunc.rqs: header says 7 classes of dimension 16 but the file holds 100 bytes" \
		resque summarize --merge a.rqs trunc.rqs -o bad.rqs &&
	cp a.rqs flip.rqs && printf "\\377" | dd of=flip.rqs bs=1 seek=60 conv=notrunc 2>/dev/null &&
	expect_error 3 "flip.rqs: checksum mismatch" resque summarize --merge a.rqs flip.rqs -o bad.rqs &&
	printf "not a summary at all, clearly" >junk.rqs &&
	expect_error 1 "junk.rqs: not a resque summary" resque summarize --merge junk.rqs a.rqs -o bad.rqs &&
	test ! -e bad.rqs
'

test_done
