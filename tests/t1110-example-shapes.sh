#!/bin/sh
# The example of issue 15 item 5 (examples/shapes/shapes.py), shortened:
# the base model and one update, planned, tracked with resque.track
# (`resque run --attach`), committed with the companion's weights and
# embeddings. Needs Debian's python3-torch (a counted skip without it).
. "$(dirname "$0")/lib.sh"

test_lazy_prereq TORCH '"$PY" -c "import torch"' 'python3-torch (apt-get install python3-torch)'
test_requires TORCH

test_expect_success 'the short example runs a life cycle and prints forecast against actual' '
	RESQUE_BIN="$RQ_BUILD/resque" "$PY" "$RQ_ROOT/examples/shapes/shapes.py" --short --dir shapes \
		>out 2>err || { cat out err; false; } &&
	cat out &&
	grep -q "^v1: [0-9]* epochs from scratch" out &&
	grep -E -q "^v2 +noise +[0-9.]+ +[0-9.]+ \[" out
'

test_expect_success 'the ledger holds both versions, the plan and its tracked actual, and verifies' '
	cd shapes &&
	expect_success resque verify &&
	expect_success resque log --json && cp "$OUT" log.json &&
	"$PY" - log.json <<-\PYEOF
	import json, sys
	d = json.load(open(sys.argv[1]))
	e = d if isinstance(d, list) else d.get("entries", d)
	types = [x["type"] for x in e]
	assert types.count("version") == 2 and types.count("plan") == 1 and types.count("actual") == 2, types
	PYEOF
	expect_success resque show v2 --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"parent_name\"]")" = v1 &&
	expect_success resque diff v1 v2 --params &&
	grep_out "param"
'

test_done
