#!/bin/sh
# resque shard refuses what reviews of it found: a --previous that is not
# the shard's previous assignment (a retried step that read its own
# output), files changed between `shard stats` and the final step, one
# shard's final step given in place of another's of the same identity
# (while init and merge take the same shard twice), more rows than
# the ARI takes, forged partials (rows above INT64_MAX, a done state at
# iteration 0, a step whose iteration contradicts its state); it writes a
# step and its assignment together or not at all, prints before replacing
# the state, keeps the final table sparse, and says in the result when
# --max-iter or --tol were not the defaults.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY
SQ="'"

cat >gen.py <<'PY'
import numpy as np
rng = np.random.default_rng(3)
c = rng.normal(0, 0.4, (5, 6))
for i, n in enumerate([300, 200], 1):
    y = rng.integers(0, 5, n)
    np.save('e%d.npy' % i, (c[y] + rng.normal(0, 1, (n, 6))).astype(np.float32))
    np.save('l%d.npy' % i, y)
PY

# forge.py IN OUT OFFSET VALUE...: OUT = IN with the u64 at each OFFSET set
# to VALUE (a float when it has a dot), the checksum trailer recomputed.
cat >forge.py <<'PY'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
args = sys.argv[3:]
for off, val in zip(args[0::2], args[1::2]):
    fmt = '<d' if '.' in val or 'e' in val else '<Q'
    b[int(off):int(off) + 8] = struct.pack(fmt, float(val) if fmt == '<d' else int(val))
b[-32:] = hashlib.blake2b(bytes(b[:-32]), digest_size=32).digest()
open(sys.argv[2], 'wb').write(bytes(b))
PY

# bigstats.py IN OUT N: a stats partial of one shard claiming N rows (the
# shard's row count and its first class's count raised to match).
cat >bigstats.py <<'PY'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
n0 = struct.unpack('<Q', b[32:40])[0]; d = struct.unpack('<Q', b[16:24])[0]
n = int(sys.argv[3]); at = 160 + 20 * d + 8
c = struct.unpack('<Q', b[at:at + 8])[0]
b[32:40] = struct.pack('<Q', n); b[80:88] = struct.pack('<Q', n)
b[at:at + 8] = struct.pack('<Q', c + n - n0)
b[-32:] = hashlib.blake2b(bytes(b[:-32]), digest_size=32).digest()
open(sys.argv[2], 'wb').write(bytes(b))
PY

# moverow.py A B: one row moved from step partial A's shard to B's (the
# rows, n and one cluster's count of each changed; checksums recomputed).
cat >moverow.py <<'PY'
import hashlib, struct, sys
def load(p):
    return bytearray(open(p, 'rb').read())
def u64(b, at):
    return struct.unpack('<Q', b[at:at + 8])[0]
def put(b, at, v):
    b[at:at + 8] = struct.pack('<Q', v)
a, b = load(sys.argv[1]), load(sys.argv[2])
d = u64(a, 16); k = u64(a, 24)
for part, delta in ((a, -1), (b, 1)):
    put(part, 32, u64(part, 32) + delta); put(part, 80, u64(part, 80) + delta)
c = next(c for c in range(k) if u64(a, 144 + c * (8 + 8 * d)) > 0)
for part, delta in ((a, -1), (b, 1)):
    at = 144 + c * (8 + 8 * d); put(part, at, u64(part, at) + delta)
for part, path in ((a, sys.argv[1]), (b, sys.argv[2])):
    part[-32:] = hashlib.blake2b(bytes(part[:-32]), digest_size=32).digest()
    open(path, 'wb').write(bytes(part))
PY

steps() { # STATE SUFFIX [--previous]: both shards' steps, assignments a1 a2
	for i in 1 2; do
		_p=
		[ "${3:-}" = --previous ] && _p="--previous a$i.npy"
		# shellcheck disable=SC2086
		resque shard step --state "$1" -e e$i.npy -l l$i.npy -o "step$i$2.rqp" $_p \
			--assignment "a$i$2.npy" >/dev/null || return 1
	done
}

test_expect_success 'setup: stats, state 0, state 1' '
	"$PY" gen.py &&
	resque shard stats -e e1.npy -l l1.npy -o stats1.rqp >/dev/null &&
	resque shard stats -e e2.npy -l l2.npy -o stats2.rqp >/dev/null &&
	resque shard init -o state0.rqp stats1.rqp stats2.rqp >/dev/null &&
	steps state0.rqp 0 && cp a10.npy a1.npy && cp a20.npy a2.npy &&
	resque shard update --state state0.rqp -o state1.rqp step10.rqp step20.rqp >/dev/null
'

test_expect_success 'a retried step that read its own output: update refuses, nothing written' '
	steps state1.rqp r --previous &&
	for i in 1 2; do
		resque shard step --state state1.rqp -e e$i.npy -l l$i.npy -o retry$i.rqp \
			--previous a${i}r.npy --assignment a${i}r.npy >/dev/null || return 1
	done &&
	cp state1.rqp before.rqp &&
	expect_error 1 "state1.rqp: the steps say no row changed but the centres moved" \
		resque shard update --state state1.rqp -o state2.rqp retry1.rqp retry2.rqp &&
	test ! -e state2.rqp && compare before.rqp state1.rqp &&
	expect_error 1 "state1.rqp: the steps say no row changed" \
		resque shard update --state state1.rqp retry1.rqp retry2.rqp &&
	compare before.rqp state1.rqp &&
	expect_success resque shard update --state state1.rqp -o state2.rqp step1r.rqp step2r.rqp
'

test_expect_success 'the same shard twice is taken by init and merge (real data repeat shards)' '
	expect_success resque shard init --json -o dup.rqp stats1.rqp stats2.rqp stats1.rqp &&
	test "$(json_get "$OUT" "d[\"shards\"], d[\"rows\"]")" = "(3, 800)" &&
	cp e1.npy e1copy.npy &&
	resque shard stats -e e1copy.npy -l l1.npy -o stats1c.rqp >/dev/null &&
	expect_success resque shard merge -o m.rqp stats1.rqp stats1c.rqp &&
	resque shard merge -o m12.rqp stats1.rqp stats2.rqp >/dev/null &&
	expect_success resque shard init -o dup2.rqp m12.rqp stats2.rqp
'

# Two tensors of one safetensors file with one labels file: two shards,
# one pair of fingerprints (they are of the whole files).
cat >st.py <<'PY'
import json, struct, numpy as np
a = np.load('e1.npy'); b = a[::-1].copy()
hdr = {'a': {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [0, a.nbytes]},
       'b': {'dtype': 'F32', 'shape': list(b.shape), 'data_offsets': [a.nbytes, 2 * a.nbytes]}}
h = json.dumps(hdr).encode(); h += b' ' * (-len(h) % 8)
open('two.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + a.tobytes() + b.tobytes())
PY

test_expect_success 'two tensors of one file: the same fingerprints, two shards all the same' '
	"$PY" st.py &&
	resque shard stats -e two.safetensors --tensor a -l l1.npy -o ta.rqp >/dev/null &&
	resque shard stats -e two.safetensors --tensor b -l l1.npy -o tb.rqp >/dev/null &&
	expect_success resque shard init -o tab.rqp ta.rqp tb.rqp
'

test_expect_success 'files changed since stats: the final step records it, result refuses' '
	cp state2.rqp run.rqp && cp a1r.npy p1.npy && cp a2r.npy p2.npy &&
	i=0 &&
	while [ "$i" -lt 100 ]; do
		i=$((i + 1)) &&
		for s in 1 2; do
			resque shard step --state run.rqp -e e$s.npy -l l$s.npy -o r$s.rqp \
				--previous p$s.npy --assignment q$s.npy >/dev/null && mv q$s.npy p$s.npy || return 1
		done &&
		resque shard update --json --state run.rqp r1.rqp r2.rqp >up.json || return 1
		[ "$(json_get up.json "d[\"done\"]")" = True ] && break
	done &&
	resque shard step --final --state run.rqp -e e1.npy -l l1.npy -o f1.rqp >/dev/null &&
	resque shard step --final --state run.rqp -e e2.npy -l l2.npy -o f2.rqp >/dev/null &&
	expect_success resque shard result --json --state run.rqp f1.rqp f2.rqp &&
	test "$(json_get "$OUT" "\"max_iter\" in d or \"tol\" in d")" = False &&
	"$PY" -c "
import numpy as np
X = np.load(\"e2.npy\"); X[5, 1] += 0.5; np.save(\"e2m.npy\", X)" &&
	resque shard step --final --state run.rqp -e e2m.npy -l l2.npy -o f2b.rqp >/dev/null &&
	expect_error 1 "f2b.rqp, entry 1 of 1: shard 2 of 2 (200 rows) by its identity, but its embeddings file changed since \`resque shard stats\` (b2:" \
		resque shard result --state run.rqp f1.rqp f2b.rqp
'

# e2m.npy is e2.npy with a row between the first and the last changed: the
# same identity, other content. A state of the shards e2, e2m given the
# step of e2 twice: update refuses it at once (steps carry each shard's
# content checksum; the reviewer's repro ran it to the end and result
# printed a wrong value). Run right, result refuses e2's final partial
# twice too (final partials carry the content fingerprints as well).
test_expect_success 'one shard given twice in place of another of the same identity: update refuses' '
	resque shard stats -e e2.npy -l l2.npy -o sa.rqp >/dev/null &&
	resque shard stats -e e2m.npy -l l2.npy -o sb.rqp >/dev/null &&
	resque shard init -o ab.rqp sa.rqp sb.rqp >/dev/null &&
	resque shard step --state ab.rqp -e e2.npy -l l2.npy -o sta.rqp >/dev/null &&
	cp ab.rqp before.rqp &&
	expect_error 1 "sta.rqp, entry 1 of 1: shard 1 of 2 (200 rows) again, already covered by sta.rqp, and no step partial has the content of shard 2 of 2 (200 rows), of the same identity (its content checksum " \
		resque shard update --state ab.rqp sta.rqp sta.rqp &&
	test ! -s "$OUT" && compare before.rqp ab.rqp &&
	resque shard merge -o staa.rqp sta.rqp sta.rqp >/dev/null &&
	expect_error 1 "staa.rqp, entry 2 of 2: shard 1 of 2 (200 rows) again, already covered by staa.rqp, and no step partial" \
		resque shard update --state ab.rqp staa.rqp &&
	compare before.rqp ab.rqp &&
	resque shard init -o a1.rqp stats1.rqp sa.rqp >/dev/null &&
	resque shard step --state a1.rqp -e e1.npy -l l1.npy -o st1.rqp >/dev/null &&
	resque shard step --state a1.rqp -e e2m.npy -l l2.npy -o stm.rqp >/dev/null &&
	cp a1.rqp before.rqp &&
	expect_error 1 "stm.rqp, entry 1 of 1: shard 2 of 2 (200 rows) by its identity, but the embeddings it read have content checksum " \
		resque shard update --state a1.rqp st1.rqp stm.rqp &&
	grep "the stats${SQ} [0-9a-f]\{16\}: another shard${SQ}s rows of the same identity, or the embeddings changed since" "$ERR" &&
	compare before.rqp a1.rqp &&
	i=0 && pa= && pb= &&
	while [ "$i" -lt 100 ]; do
		i=$((i + 1)) &&
		resque shard step --state ab.rqp -e e2.npy -l l2.npy -o sta.rqp $pa \
			--assignment qa.npy >/dev/null && mv qa.npy pa.npy && pa="--previous pa.npy" &&
		resque shard step --state ab.rqp -e e2m.npy -l l2.npy -o stb.rqp $pb \
			--assignment qb.npy >/dev/null && mv qb.npy pb.npy && pb="--previous pb.npy" &&
		resque shard update --json --state ab.rqp stb.rqp sta.rqp >up.json || return 1
		[ "$(json_get up.json "d[\"done\"]")" = True ] && break
	done &&
	test "$(json_get up.json "d[\"done\"]")" = True &&
	resque shard step --final --state ab.rqp -e e2.npy -l l2.npy -o fa.rqp >/dev/null &&
	resque shard step --final --state ab.rqp -e e2m.npy -l l2.npy -o fb.rqp >/dev/null &&
	cp ab.rqp before.rqp &&
	expect_error 1 "fa.rqp, entry 1 of 1: shard 1 of 2 (200 rows) again, already covered by fa.rqp, and no final partial has the content of shard 2 of 2 (200 rows), of the same identity (its embeddings file b2:" \
		resque shard result --state ab.rqp fa.rqp fa.rqp &&
	test ! -s "$OUT" && compare before.rqp ab.rqp &&
	resque shard merge -o faa.rqp fa.rqp fa.rqp >/dev/null &&
	expect_error 1 "faa.rqp, entry 2 of 2: shard 1 of 2 (200 rows) again, already covered by faa.rqp, and no final partial has the content of shard 2 of 2" \
		resque shard result --json --state ab.rqp faa.rqp &&
	test ! -s "$OUT" &&
	expect_error 1 "fb.rqp, entry 1 of 1: shard 2 of 2 (200 rows) again, already covered by fb.rqp, and no final partial has the content of shard 1 of 2 (200 rows)" \
		resque shard result --state ab.rqp fb.rqp fb.rqp &&
	expect_success resque shard result --state ab.rqp fb.rqp fa.rqp
'

# forgecells.py IN OUT: 1 row moved between the first and the last cell of
# a final partial's table (its total kept, the checksum recomputed).
cat >forgecells.py <<'PY'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
S = struct.unpack_from('<Q', b, 40)[0]
off = 48 + S * 112
C = struct.unpack_from('<Q', b, off + 40)[0]
cell = lambda i: struct.unpack_from('<QQQ', b, off + 48 + 24 * i)
(a0, a1, ac), (z0, z1, zc) = cell(0), cell(C - 1)
assert a0 != z0 and ac > 1
struct.pack_into('<QQQ', b, off + 48, a0, a1, ac - 1)
struct.pack_into('<QQQ', b, off + 48 + 24 * (C - 1), z0, z1, zc + 1)
b[-32:] = hashlib.blake2b(bytes(b[:-32]), digest_size=32).digest()
open(sys.argv[2], 'wb').write(bytes(b))
PY

test_expect_success 'a final partial whose table contradicts the class counts: result refuses' '
	"$PY" forgecells.py fa.rqp fx.rqp &&
	cp ab.rqp before.rqp &&
	expect_error 1 "fb.rqp, fx.rqp: the table has " \
		resque shard result --state ab.rqp fb.rqp fx.rqp &&
	grep "rows of label [0-9]*, the stats counted [0-9]* (ab.rqp): a final partial is forged or inconsistent" "$ERR" &&
	test ! -s "$OUT" && compare before.rqp ab.rqp
'

test_expect_success 'the final table is sparse: a one-row shard of 300 classes' '
	"$PY" -c "
import numpy as np
rng = np.random.default_rng(1)
np.save(\"big-e.npy\", rng.normal(0, 1, (600, 2)).astype(np.float32))
np.save(\"big-l.npy\", np.arange(600) % 300)
np.save(\"one-e.npy\", np.zeros((1, 2), np.float32)); np.save(\"one-l.npy\", np.array([7]))" &&
	resque shard stats -e big-e.npy -l big-l.npy -o bs.rqp >/dev/null &&
	resque shard stats -e one-e.npy -l one-l.npy -o os.rqp >/dev/null &&
	resque shard init --max-iter 1 -o bst.rqp bs.rqp os.rqp >/dev/null &&
	resque shard step --state bst.rqp -e big-e.npy -l big-l.npy -o b1.rqp >/dev/null &&
	resque shard step --state bst.rqp -e one-e.npy -l one-l.npy -o b2.rqp >/dev/null &&
	resque shard update --state bst.rqp b1.rqp b2.rqp >/dev/null &&
	resque shard step --final --state bst.rqp -e one-e.npy -l one-l.npy -o bf.rqp >/dev/null &&
	test "$(wc -c <bf.rqp)" -eq 264 &&
	resque shard step --final --state bst.rqp -e big-e.npy -l big-l.npy -o bf1.rqp >/dev/null &&
	test "$(wc -c <bf1.rqp)" -le $((264 + 600 * 24)) &&
	expect_success resque shard result --json --state bst.rqp bf1.rqp bf.rqp &&
	test "$(json_get "$OUT" "d[\"max_iter\"], \"tol\" in d")" = "(1, False)" &&
	expect_success resque shard result --state bst.rqp bf1.rqp bf.rqp &&
	grep_out "^max_iter 1, tol 0.0001 \(not the defaults 300, 1e-4\)$"
'

test_expect_success 'limits: too many rows, rows above INT64_MAX, means outside float32, done at 0' '
	"$PY" bigstats.py stats1.rqp big1.rqp 2000000000 &&
	"$PY" bigstats.py stats2.rqp big2.rqp 2000000000 &&
	resque shard merge -o bigm.rqp big1.rqp stats2.rqp >/dev/null &&
	expect_error 1 "big2.rqp: the stats reach 4000000000 rows here, more than the 3037000499" \
		resque shard init -o s.rqp big1.rqp big2.rqp &&
	test ! -e s.rqp &&
	resque shard merge -o bigm2.rqp big1.rqp big2.rqp >/dev/null &&
	expect_error 1 "bigm2.rqp: the stats reach 4000000000 rows here" \
		resque shard init -o s.rqp bigm2.rqp &&
	"$PY" forge.py stats1.rqp huge.rqp 32 9223372036854775808 &&
	expect_error 1 "huge.rqp: header says 9223372036854775808 rows, more than 9223372036854775807" \
		resque shard init -o s.rqp huge.rqp &&
	"$PY" forge.py stats1.rqp far.rqp $((160 + 20 * 6 + 16)) 1e300 &&
	expect_error 1 "far.rqp: the stats${SQ} means are outside float32${SQ}s range" \
		resque shard init -o s.rqp far.rqp &&
	expect_error 1 "the stats far.rqp and stats2.rqp: the stats${SQ} means are outside" \
		resque shard init -o s.rqp far.rqp stats2.rqp &&
	test ! -e s.rqp &&
	"$PY" forge.py state0.rqp done0.rqp $((48 + 2 * 112 + 32)) 1 &&
	expect_error 1 "done0.rqp: iteration 0 of at most 300 is inconsistent" \
		resque shard step --final --state done0.rqp -e e1.npy -l l1.npy -o f.rqp &&
	test ! -e f.rqp
'

test_expect_success 'a step whose iteration or rows contradict the state is blamed' '
	cp state2.rqp st.rqp &&
	steps st.rqp x &&
	"$PY" forge.py step2x.rqp forged.rqp 128 7 &&
	cp st.rqp before.rqp &&
	expect_error 1 "forged.rqp: says iteration 7 but names this state, which is at iteration 2" \
		resque shard update --state st.rqp step1x.rqp forged.rqp &&
	compare before.rqp st.rqp &&
	cp step1x.rqp m1.rqp && cp step2x.rqp m2.rqp && "$PY" moverow.py m1.rqp m2.rqp &&
	expect_error 1 "m1.rqp, entry 1 of 1: 299 rows, but shard 1 of 2 (300 rows) has its identity: the partial is inconsistent" \
		resque shard update --state st.rqp m1.rqp m2.rqp &&
	compare before.rqp st.rqp
'

test_expect_success 'a step and its assignment are written together or not at all' '
	expect_error 1 "nodir/a.npy: No such file or directory" \
		resque shard step --state state2.rqp -e e1.npy -l l1.npy -o out.rqp --assignment nodir/a.npy &&
	test ! -e out.rqp && ! grep -q -e "\.tmp\." -e "\.new\." "$ERR" &&
	expect_error 1 "nodir/out.rqp: No such file or directory" \
		resque shard step --state state2.rqp -e e1.npy -l l1.npy -o nodir/out.rqp --assignment a.npy &&
	test ! -e a.npy && ! grep -q -e "\.tmp\." -e "\.new\." "$ERR" &&
	test -z "$(ls | grep -e "\.new\." -e "\.tmp\.")"
'

test_expect_success 'update prints before it writes: a failed print leaves the state' '
	cp state2.rqp st.rqp && steps st.rqp y && cp st.rqp before.rqp &&
	{ resque shard update --state st.rqp step1y.rqp step2y.rqp >/dev/full 2>err.txt; rc=$?; } &&
	test "$rc" = 1 &&
	grep "write error on standard output: No space left on device; st.rqp not written" err.txt &&
	compare before.rqp st.rqp
'

test_done
