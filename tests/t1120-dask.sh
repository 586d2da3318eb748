#!/bin/sh
# resque.dask (issue 18 items 2-3): python/tests/test_dask.py against this
# build's CLI, on a LocalCluster of 2 workers — sharded data (uneven
# shards, one without a class, one of a single row) gives the CLI's
# RESQUE_dist to 1e-12 and its RESQUE_task (value, ARI, iterations); Dask
# arrays as input (empty chunks, unknown chunk sizes after a mask, labels
# chunked otherwise; an error of a chunk names the chunk; a chunk written
# once per call, its tasks pinned to its worker); the same shard twice; an
# error of the driver's reduce steps names the user's shard file; bad
# arguments (max_iter=5.0, tensor= with arrays) refused before any work; a
# worker killed (SIGKILL) in the middle of a step is retried by Dask with
# the same result (shard files and arrays) and leaves no temporary file
# behind. A counted skip without Debian's
# python3-dask and python3-distributed; pytest's own skips (a build without
# `resque shard`) are counted as skips with their reasons.
. "$(dirname "$0")/lib.sh"
test_lazy_prereq PYTEST '"$PY" -m pytest --version' 'python3-pytest (apt-get install python3-pytest)'
test_lazy_prereq DASK '"$PY" -c "import dask.array, distributed, numpy"' \
	'python3-dask and python3-distributed (apt-get install python3-dask python3-distributed)'

PYTHONPATH="$RQ_ROOT/python"
RESQUE_BIN="$RQ_BUILD/resque"
# nothing written into the source tree: no __pycache__, no .pytest_cache
PYTHONDONTWRITEBYTECODE=1
# the workers' scratch files in this test's directory
TMPDIR="$SCRATCH"
export PYTHONPATH RESQUE_BIN PYTHONDONTWRITEBYTECODE TMPDIR

# pytest_run NAME ARGS...: pytest quietly; output in NAME.out, its skips
# (one reason a line) in NAME.skips.
pytest_run() {
	_n=$1 && shift
	"$PY" -m pytest -q -rs -p no:cacheprovider -W ignore::DeprecationWarning \
		--basetemp="$SCRATCH/$_n.tmp" "$@" >"$_n.out" 2>&1
	_st=$?
	sed -n 's/^SKIPPED \[[0-9]*\] //p' "$_n.out" >"$_n.skips"
	if [ $_st -ne 0 ] || ! grep -Eq "[0-9]+ passed" "$_n.out"; then
		cat "$_n.out" >&2
		return 1
	fi
	tail -1 "$_n.out" >&2
}

test_expect_success PYTEST,DASK 'pytest: resque.dask equals the CLI on the concatenated data' '
	pytest_run dask "$RQ_ROOT/python/tests/test_dask.py" &&
	grep -Eq "^[0-9]+ passed" dask.out
'
[ -f dask.skips ] && while IFS= read -r _r; do
	_w=${_r%%: *}
	test_skip "pytest: ${_w##*/}" "${_r#*: }"
done <dask.skips

test_expect_success PYTEST,DASK 'no chunk files are left behind' '
	find "$SCRATCH" -name "resque-dask-*" >left && compare /dev/null left
'

test_expect_success NUMPY 'the Spark recipe of docs/SCALE.md, with a stand-in SparkContext, gives measure task' '
	"$PY" - "$RQ_ROOT/docs/SCALE.md" >spark.out 2>spark.err <<-\PYEOF || { cat spark.err; false; }
	import contextlib, io, json, re, subprocess, sys
	import numpy as np
	class RDD:  # what the recipe uses of pyspark: map, mapPartitions, collect
	    def __init__(self, parts): self.parts = parts
	    def map(self, f): return RDD([[f(x) for x in p] for p in self.parts])
	    def mapPartitions(self, f): return RDD([list(f(iter(p))) for p in self.parts])
	    def collect(self): return [x for p in self.parts for x in p]
	class Broadcast:
	    def __init__(self, v): self.value = v
	class SparkContext:
	    def parallelize(self, data, n):
	        return RDD([data[i * len(data) // n:(i + 1) * len(data) // n] for i in range(n)])
	    def broadcast(self, v): return Broadcast(v)
	rng = np.random.default_rng(5)
	emb, lab, xs, ys = [], [], [], []
	for i, n in enumerate((30, 1, 12)):
	    y = rng.integers(0, 3, size=n)
	    x = (rng.normal(size=(n, 4)) + y[:, None]).astype(np.float32)
	    np.save(f"e{i}.npy", x); np.save(f"l{i}.npy", y)
	    emb.append(f"e{i}.npy"); lab.append(f"l{i}.npy"); xs.append(x); ys.append(y)
	np.save("all.npy", np.concatenate(xs)); np.save("all.l.npy", np.concatenate(ys))
	recipe = [b for b in re.findall(r"```python\n(.*?)```", open(sys.argv[1]).read(), re.S)
	          if "mapPartitions" in b]
	assert len(recipe) == 1
	out = io.StringIO()
	with contextlib.redirect_stdout(out):
	    exec(recipe[0], {"sc": SparkContext(), "emb": emb, "lab": lab})
	got = json.loads(out.getvalue())
	want = json.loads(subprocess.run(["resque", "measure", "task", "-e", "all.npy", "-l", "all.l.npy",
	                                  "--json"], capture_output=True, text=True, check=True).stdout)
	for k in ("value", "ari", "iterations", "k", "n"):
	    assert got[k] == want[k], (k, got[k], want[k])
	assert got["shards"]["count"] == 3 and got["shards"]["rows"] == 43
	print("same", got["iterations"])
	PYEOF
	grep -q "^same [0-9]" spark.out
'

test_expect_success PYTEST,DASK 'a failing case in a dask test fails this script' '
	mkdir -p neg &&
	printf "import resque.dask as rd\ndef test_fails():\n    assert rd.FAN_IN == 0\n" >neg/test_neg.py &&
	! pytest_run neg neg 2>/dev/null && grep -q "1 failed" neg.out
'

test_done
