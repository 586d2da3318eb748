#!/bin/sh
# resque measure dist: RESQUE_dist and the per-class angles against numpy
# (expected values computed here, at test time), from summaries and from
# EMB:LABELS, on overlapping random clusters and on degenerate cases.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

# gen.py NAME SEED N D K SHIFT [LABEL-OFFSET]: two data sets of the same
# classes, the new one's class centres moved by SHIFT (controlled overlap).
cat >gen.py <<'PY'
import sys, numpy as np
name, seed, n, d, k, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
off = int(sys.argv[7]) if len(sys.argv) > 7 else 0
rng = np.random.default_rng(seed)
c = rng.normal(0, 1, (k, d)) + 0.5
for side, cc in (('old', c), ('new', c + rng.normal(0, shift, (k, d)))):
    y = rng.integers(0, k, n)
    X = cc[y] + rng.normal(0, 1.5, (n, d))
    np.save('%s-%s.npy' % (name, side), X.astype(np.float32))
    np.save('%s-%s-y.npy' % (name, side), (y + (off if side == 'new' else 0)).astype(np.int64))
PY

# expect.py OLD-EMB OLD-LAB NEW-EMB NEW-LAB JSON: the numpy computation of
# docs/METHOD.md, compared with resque's --json output to 1e-9.
cat >expect.py <<'PY'
import json, sys, numpy as np
Xo, yo, Xn, yn = (np.load(p) for p in sys.argv[1:5])
got = json.load(open(sys.argv[5]))
Xo, Xn = Xo.astype(np.float64).reshape(len(yo), -1), Xn.astype(np.float64).reshape(len(yn), -1)
angles = {}
zero = []
for c in sorted(set(yo) & set(yn)):
    a, b = Xo[yo == c].sum(axis=0), Xn[yn == c].sum(axis=0)
    if not a.any() or not b.any():
        zero.append(int(c)); continue
    cos = np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)
    angles[int(c)] = float(np.arccos(cos) / np.pi)
value = float(np.mean(list(angles.values())))
assert got['kind'] == 'dist'
assert abs(got['value'] - value) <= 1e-9, (got['value'], value)
assert len(got['classes']) == len(angles)
for e in got['classes']:
    assert abs(e['angle'] - angles[e['label']]) <= 1e-9, (e, angles[e['label']])
    assert e['n_old'] == int((yo == e['label']).sum()) and e['n_new'] == int((yn == e['label']).sum())
order = [e['angle'] for e in got['classes']]
assert order == sorted(order, reverse=True), order
assert got['old_only'] == sorted(int(c) for c in set(yo) - set(yn))
assert got['new_only'] == sorted(int(c) for c in set(yn) - set(yo))
assert got['zero_sum'] == zero, (got['zero_sum'], zero)
print(value)
PY

dist_check() { # NAME: compare with numpy, from EMB:LABELS and from summaries
	expect_success resque measure dist --json --old "$1-old.npy:$1-old-y.npy" --new "$1-new.npy:$1-new-y.npy" &&
	cp "$OUT" "$1.json" &&
	"$PY" expect.py "$1-old.npy" "$1-old-y.npy" "$1-new.npy" "$1-new-y.npy" "$1.json" &&
	expect_success resque summarize "$1-old.npy" --labels "$1-old-y.npy" -o "$1-old.rqs" &&
	expect_success resque summarize "$1-new.npy" --labels "$1-new-y.npy" -o "$1-new.rqs" &&
	expect_success resque measure dist --json --old "$1-old.rqs" --new "$1-new.rqs" &&
	compare "$1.json" "$OUT"
}

test_expect_success 'random clusters, small and large shifts: equals numpy to 1e-9' '
	"$PY" gen.py s 1 3000 32 10 0.2 && dist_check s &&
	"$PY" gen.py l 2 3000 32 10 2.0 && dist_check l &&
	"$PY" gen.py h 3 5000 128 40 0.7 && dist_check h
'

test_expect_success 'the text output lists the classes that moved most first' '
	expect_success resque measure dist --old s-old.rqs --new s-new.rqs &&
	head -1 "$OUT" >first &&
	grep -q "^RESQUE_dist 0\.[0-9]* over 10 shared classes$" first &&
	top=$(json_get s.json "d[\"classes\"][0][\"label\"]") &&
	sed -n 3p "$OUT" | grep -q "^$top " &&
	expect_success resque measure dist --old s-old.rqs --new s-new.rqs --top 2 --json &&
	test "$(json_get "$OUT" "len(d[\"classes\"])")" = 2
'

test_expect_success 'classes on one side only are reported and excluded' '
	"$PY" gen.py o 4 2000 8 6 0.5 3 && dist_check o &&
	test "$(json_get o.json "d[\"old_only\"], d[\"new_only\"]")" = "([0, 1, 2], [6, 7, 8])" &&
	expect_success resque measure dist --old o-old.rqs --new o-new.rqs &&
	grep_out "^old side only \(excluded\): 0 1 2$" && grep_out "^new side only \(excluded\): 6 7 8$"
'

test_expect_success 'degenerate: one class; D = 1; k = N; duplicate points' '
	"$PY" gen.py one 5 500 12 1 0.8 && dist_check one &&
	"$PY" gen.py d1 6 800 1 5 3.0 && dist_check d1 &&
	"$PY" -c "
import numpy as np
rng = np.random.default_rng(7)
X = rng.normal(0.3, 1, (200, 6)).astype(np.float32)
np.save(\"kn-old.npy\", X); np.save(\"kn-new.npy\", X[::-1] + rng.normal(0, 0.5, X.shape).astype(np.float32))
np.save(\"kn-old-y.npy\", np.arange(200)); np.save(\"kn-new-y.npy\", np.arange(200)[::-1].copy())
D = np.repeat(rng.normal(0.2, 1, (5, 4)), 40, axis=0).astype(np.float32)
yd = np.repeat(np.arange(5), 40)
np.save(\"dup-old.npy\", D); np.save(\"dup-old-y.npy\", yd)
np.save(\"dup-new.npy\", D[:, ::-1].copy()); np.save(\"dup-new-y.npy\", yd)
" &&
	dist_check kn && dist_check dup
'

test_expect_success 'identical sides give exactly 0; opposite sides exactly 1' '
	expect_success resque measure dist --json --old s-old.rqs --new s-old.npy:s-old-y.npy &&
	test "$(json_get "$OUT" "d[\"value\"] == 0 and all(c[\"angle\"] == 0 for c in d[\"classes\"])")" = True &&
	"$PY" -c "import numpy as np; np.save(\"neg.npy\", -np.load(\"s-old.npy\"))" &&
	expect_success resque measure dist --json --old s-old.rqs --new neg.npy:s-old-y.npy &&
	test "$(json_get "$OUT" "d[\"value\"] == 1")" = True
'

test_expect_success 'a class whose vector sum is zero is reported and excluded' '
	"$PY" -c "
import numpy as np
rng = np.random.default_rng(8)
X = rng.normal(0.5, 1, (300, 5)); y = np.repeat(np.arange(3), 100)
Z = rng.integers(-8, 8, (50, 5)) / 4; X[100:150] = Z; X[150:200] = -Z   # class 1 sums to exactly zero
np.save(\"z-old.npy\", X); np.save(\"z-old-y.npy\", y)
np.save(\"z-new.npy\", X + 0.3); np.save(\"z-new-y.npy\", y)
" &&
	dist_check z &&
	test "$(json_get z.json "d[\"zero_sum\"], len(d[\"classes\"])")" = "([1], 2)"
'

test_expect_success 'no shared class, dimension mismatch and bad files are refused' '
	"$PY" gen.py p 9 300 8 4 0.5 100 &&
	expect_error 1 "no class with a non-zero sum is present on both sides" \
		resque measure dist --old p-old.npy:p-old-y.npy --new p-new.npy:p-new-y.npy &&
	expect_error 1 "dimension 32 but the new ones 8" resque measure dist --old s-old.rqs --new o-new.rqs &&
	expect_error 1 "nope.rqs: no such file (--new takes a summary or EMB:LABELS)" \
		resque measure dist --old s-old.rqs --new nope.rqs &&
	expect_error 1 "s-old.npy: not a resque summary" resque measure dist --old s-old.npy --new s-new.rqs &&
	expect_error 1 "o-old-y.npy" resque measure dist --old s-old.npy:o-old-y.npy --new s-new.rqs &&
	expect_error 2 "missing --new NEW" resque measure dist --old s-old.rqs &&
	expect_error 2 "is not a subcommand" resque measure distance --old s-old.rqs
'

test_done
