#!/bin/sh
# resque plan --summary S --shards FILE (issue 18): a distribution-shift plan
# on a summary merged from shards (resque summarize --merge, as
# resque.dask.summarize does) records where it came from: the shards'
# count, rows and list fingerprint, and the --shards file's fingerprint.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY B2SUM

plan_json() { # ARGS...: `resque plan ARGS --json`, its output in plan.json
	expect_success resque plan "$@" --json && cp "$OUT" plan.json
}

test_expect_success 'setup: v1; the new data in 3 uneven shards, summarized each and merged' '
	expect_success resque init p && cd p &&
	printf weights1 >w1.bin &&
	make_embeddings d1 1 0 && make_embeddings d2 2 0.5 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"intensity_g_per_kwh\": 100, \"hardware\": \"rtx3090\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque config hardware rtx3090 &&
	"$PY" - <<-\PYEOF &&
	import numpy as np
	x, y = np.load("d2-emb.npy"), np.load("d2-lab.npy")
	for i, (a, b) in enumerate(((0, 1), (1, 120), (120, 300))):
	    np.save("s%d-emb.npy" % i, x[a:b]); np.save("s%d-lab.npy" % i, y[a:b])
	PYEOF
	for i in 0 1 2; do
		expect_success resque summarize -l s$i-lab.npy -o s$i.rqs s$i-emb.npy || return 1
	done &&
	expect_success resque summarize --merge -o merged.rqs s0.rqs s1.rqs s2.rqs &&
	"$PY" - <<-\PYEOF
	# the "shards" object as resque.dask.summarize returns it
	import hashlib, json, numpy as np
	fp = lambda b: "b2:" + hashlib.blake2b(b, digest_size=32).hexdigest()
	lines = "".join("%s %s %d\n" % (fp(open("s%d-emb.npy" % i, "rb").read()), fp(open("s%d-lab.npy" % i, "rb").read()),
	                                len(np.load("s%d-lab.npy" % i))) for i in range(3))
	json.dump({"path": "merged.rqs", "shards": {"count": 3, "rows": 300, "fingerprint": fp(lines.encode())}},
	          open("shards.json", "w"))
	PYEOF
'

test_expect_success 'plan --summary --shards: the index of the merged summary; shards recorded; --dry-run writes nothing' '
	cd p && before=$(repo_state) &&
	plan_json --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --dry-run && cp plan.json rows.json &&
	plan_json --from v1 --summary merged.rqs --shards shards.json --intensity 100 --dry-run &&
	test "$(repo_state)" = "$before" &&
	"$PY" - rows.json plan.json shards.json <<-\PYEOF
	import json, sys
	a, b, s = (json.load(open(p)) for p in sys.argv[1:4])
	a, b = a["plans"][0], b["plans"][0]
	assert abs(a["index"] - b["index"]) <= 1e-12, (a["index"], b["index"])
	assert b["shards"] == s["shards"], b["shards"]
	assert b["candidate"]["shards"] == {"path": "shards.json"}, b["candidate"]
	assert b["kind"] == "dist" and b["id"] is None
	PYEOF
	expect_success resque plan --from v1 --summary merged.rqs --shards shards.json --intensity 100 --dry-run &&
	grep_out "^  from 3 shards, 300 rows \(shard list b2:"
'

test_expect_success 'recorded: show --json and --raw carry the shards, show says it, verify passes' '
	cd p && plan_json --from v1 --summary merged.rqs --shards shards.json --intensity 100 &&
	id=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque show "$id" --json &&
	test "$(json_get "$OUT" "d[\"body\"][\"shards\"] == json.load(open(\"shards.json\"))[\"shards\"]")" = True &&
	test "$(json_get "$OUT" "d[\"body\"][\"candidate\"][\"shards\"][\"fingerprint\"]")" = \
		"b2:$(b2sum -l 256 shards.json | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "d[\"body\"][\"candidate\"][\"summary\"][\"fingerprint\"]")" = \
		"b2:$(b2sum -l 256 merged.rqs | cut -d" " -f1)" &&
	expect_success resque show "$id" --raw && grep -q "\"shards\":{\"count\":3," "$OUT" &&
	expect_success resque show "$id" && grep_out "^shards  from 3 shards, 300 rows" &&
	expect_success resque verify
'

test_expect_success 'refused, ledger unchanged: rows not the summary'"'"'s n, no shards object, --shards without one --summary' '
	cd p && repo_state >before && n=$(git --git-dir=.resque rev-list --count refs/heads/ledger) && test "$n" -gt 2 &&
	sed "s/\"rows\": 300/\"rows\": 299/" shards.json >rows.json &&
	expect_error 1 "rows.json: '"'"'shards.rows'"'"' is 299, not the 300 rows of the --summary" \
		resque plan --from v1 --summary merged.rqs --shards rows.json &&
	printf "{\"count\": 3}\n" >noshards.json &&
	expect_error 1 "noshards.json: '"'"'shards'"'"' is missing" \
		resque plan --from v1 --summary merged.rqs --shards noshards.json &&
	expect_error 1 "missing.json" resque plan --from v1 --summary merged.rqs --shards missing.json &&
	expect_error 2 "--shards FILE says which shards the --summary was merged from" \
		resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --shards shards.json &&
	expect_error 2 "--shards FILE says which shards" \
		resque plan --from v1 --summary merged.rqs --summary s0.rqs --shards shards.json &&
	expect_error 2 "not --summary" \
		resque plan --from v1 --kind task --summary merged.rqs --shards shards.json &&
	repo_state >after && compare before after &&
	test "$(git --git-dir=.resque rev-list --count refs/heads/ledger)" = "$n"
'

test_done
