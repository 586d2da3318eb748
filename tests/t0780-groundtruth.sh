#!/bin/sh
# The real-retraining ground truth (scripts/gen-groundtruth.py, issue 14
# item 5): the committed CSVs have the documented shape, and the generator,
# where Debian's python3-torch is installed, regenerates a tiny one with real
# retrainings (some reaching their target, some capped by the budget),
# deterministically but for the durations.
. "$(dirname "$0")/lib.sh"
GEN="$RQ_ROOT/scripts/gen-groundtruth.py"
test_lazy_prereq TORCH '"$PY" -c "import torch, scipy, sklearn"' \
	'python3-torch, python3-scipy, python3-sklearn (apt-get install python3-torch python3-scipy python3-sklearn)'

# check.py CSV MIN-ROWS MIN-FAMILIES MIN-LEVELS MIN-SEEDS: the shape of a
# ground truth: columns, order 1..N, epochs in [1, budget] and equal to the
# budget when missed, indexes in [0, 1], both reached and missed runs, and
# per data set at least the given families, levels per family and seeds.
cat >check.py <<'PY'
import csv, sys
path, nmin, fmin, lmin, smin = sys.argv[1], *map(int, sys.argv[2:6])
cols = ("order,dataset,family,level,seed,index,epochs,reached,budget,e0,"
        "param_change,grad_norm,duration_s,target,val_acc,index_task").split(",")
rows = list(csv.DictReader(open(path)))
assert list(rows[0].keys()) == cols, list(rows[0].keys())
assert len(rows) >= nmin, len(rows)
assert [int(r["order"]) for r in rows] == list(range(1, len(rows) + 1))
for r in rows:
    ep, budget, idx = int(r["epochs"]), int(r["budget"]), float(r["index"])
    assert 1 <= ep <= budget, r
    assert r["reached"] in ("true", "false"), r
    assert r["reached"] == "true" or ep == budget, r
    assert 0 <= idx <= 1 and 0 <= float(r["index_task"]) <= 1, r
    assert int(r["e0"]) >= 1 and float(r["param_change"]) > 0 and float(r["grad_norm"]) > 0, r
    assert float(r["duration_s"]) >= 0 and 0 <= float(r["val_acc"]) <= 1, r
    assert r["reached"] == "false" or float(r["val_acc"]) >= float(r["target"]), r
reached = {r["reached"] for r in rows}
assert reached == {"true", "false"}, reached
for ds in {r["dataset"] for r in rows}:
    sel = [r for r in rows if r["dataset"] == ds]
    fams = {r["family"] for r in sel}
    assert len(fams) >= fmin, (ds, fams)
    for f in fams:
        levels = {r["level"] for r in sel if r["family"] == f}
        assert len(levels) >= lmin, (ds, f, levels)
    assert len({r["seed"] for r in sel}) >= smin, ds
    assert len({r["e0"] for r in sel}) == 1, ds
print(len(rows))
PY

test_expect_success PYTHON3 'the committed full ground truth has its shape' '
	"$PY" check.py "$RQ_ROOT/data/groundtruth/retrain.csv" 150 5 4 3
'

test_expect_success PYTHON3 'the committed short ground truth has its shape' '
	"$PY" check.py "$RQ_ROOT/data/groundtruth/retrain-short.csv" 30 5 3 2
'

test_expect_success TORCH 'a tiny ground truth: real retrainings, reached and missed' '
	expect_success "$PY" "$GEN" --tiny --out tiny.csv &&
	"$PY" check.py tiny.csv 6 3 2 1 &&
	grep -q "^wrote tiny.csv: 6 updates" "$ERR" &&
	grep -q "^base digits: E0 = " "$ERR" &&
	grep -q "^all  *all  *6 " "$ERR"
'

test_expect_success TORCH 'it is deterministic but for the durations' '
	expect_success "$PY" "$GEN" --tiny --out again.csv &&
	cut -d, -f1-12,14- tiny.csv >a &&
	cut -d, -f1-12,14- again.csv >b &&
	compare a b
'

test_expect_success TORCH 'the options change the budget and the seeds' '
	expect_success "$PY" "$GEN" --tiny --budget 5 --seeds 2 --out opt.csv &&
	"$PY" check.py opt.csv 12 3 2 2 &&
	test "$(cut -d, -f9 opt.csv | sort -u | tr "\n" " ")" = "5 budget "
'

test_expect_success TORCH 'the index is resque measure dist of the kept embeddings' '
	expect_success "$PY" "$GEN" --tiny --out keep.csv --keep-embeddings emb &&
	test "$(ls emb | wc -l)" = 8 &&
	cut -d, -f1-12,14- keep.csv >c && compare a c &&
	for n in 1 6; do
		expect_success resque measure dist --json --old emb/digits-old.npy:emb/digits-labels.npy \
			--new "emb/000$n-digits.npy:emb/digits-labels.npy" &&
		"$PY" -c "import csv, json, sys
row = list(csv.DictReader(open(\"keep.csv\")))[$n - 1]
got = json.load(open(sys.argv[1]))[\"value\"]
assert abs(got - float(row[\"index\"])) < 1e-6, (got, row)" "$OUT" || return 1
	done
'

test_expect_success TORCH 'bad options are refused with a reason, writing nothing' '
	expect_failure 2 "$PY" "$GEN" --tiny --budget 0 --out bad.csv &&
	grep -q "error: --budget and --seeds must be at least 1" "$ERR" &&
	expect_failure 2 "$PY" "$GEN" --tiny --seeds 0 --out bad.csv &&
	grep -q "error: --budget and --seeds must be at least 1" "$ERR" &&
	expect_failure 2 "$PY" "$GEN" --tiny --short --out bad.csv &&
	grep -q "error: argument --short: not allowed with argument --tiny" "$ERR" &&
	expect_failure 2 "$PY" "$GEN" --tiny --datasets iris --out bad.csv &&
	grep -q "error: no data set .iris. (digits, breast_cancer, wine)" "$ERR" &&
	expect_failure 2 "$PY" "$GEN" --tiny &&
	grep -q "error: --tiny needs --out" "$ERR" &&
	expect_failure 1 "$PY" "$GEN" --tiny --out bad.csv --resque ./nothing-here &&
	grep -q "resque ./nothing-here: not an executable file" "$ERR" &&
	test ! -e bad.csv
'

test_done
