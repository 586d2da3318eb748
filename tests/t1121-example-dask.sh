#!/bin/sh
# The worked example of issue 18 item 5 (examples/dask/dask_example.py,
# `make example-dask`), small: generated shards on a 2-worker LocalCluster,
# whose summary, RESQUE_dist and RESQUE_task equal the single machine's.
# Needs Debian's python3-dask and python3-distributed (a counted skip).
. "$(dirname "$0")/lib.sh"

test_lazy_prereq DASK '"$PY" -c "import dask.array, distributed, numpy"' \
	'python3-dask and python3-distributed (apt-get install python3-dask python3-distributed)'
test_requires DASK

export PYTHONDONTWRITEBYTECODE=1 TMPDIR="$SCRATCH"

test_expect_success 'the example prints the cluster against one machine, equal' '
	RESQUE_BIN="$RQ_BUILD/resque" "$PY" "$RQ_ROOT/examples/dask/dask_example.py" \
		--rows 3000 --shards 5 --dir ex >out 2>err || { cat out err; false; } &&
	cat out &&
	grep -q "^5 shards, 3000 rows of 64 float32, 10 classes" out &&
	grep -q "^summarize: 3000 rows, 10 classes, 5 shards b2:" out &&
	"$PY" - out <<-\PYEOF
	import sys
	rows = {l.split()[0]: l.split()[1:3] for l in open(sys.argv[1]) if l.split() and l[0] in "RAi"}
	for k in ("RESQUE_dist", "RESQUE_task", "ARI", "iterations"):
	    assert rows[k][0] == rows[k][1], (k, rows[k])
	PYEOF
'

test_expect_success 'its task.json is the result of resque shard result --json' '
	json_get ex/task.json "\"%s %d %d %d\" % (d[\"kind\"], d[\"n\"], d[\"shards\"][\"count\"], d[\"shards\"][\"rows\"])" >got &&
	echo "task 3000 5 3000" >want && compare want got
'

test_done
