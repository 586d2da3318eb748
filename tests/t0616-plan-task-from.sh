#!/bin/sh
# resque plan --task-from FILE (issue 18): a RESQUE_task computed elsewhere
# (`resque measure task --json`, or `resque shard result --json` of a
# cluster, with its "shards") is planned on exactly as the same index
# computed by plan itself; the entry records the file's fingerprint and,
# from shards, their count, rows and list fingerprint; show says so; verify
# passes. The shard-result files are written by hand here.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY B2SUM

plan_json() { # ARGS...: `resque plan ARGS --json`, its output in plan.json
	expect_success resque plan "$@" --json && cp "$OUT" plan.json
}

# with_shards IN OUT COUNT [ROWS]: IN's JSON plus a "shards" object as
# `resque shard result --json` writes it (ROWS defaults to IN's n)
with_shards() {
	"$PY" - "$@" <<-'PYEOF'
	import hashlib, json, sys
	src, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
	d = json.load(open(src))
	rows = int(sys.argv[4]) if len(sys.argv) > 4 else d["n"]
	sizes = [rows // count + (1 if i < rows % count else 0) for i in range(count)]
	fp = lambda s: "b2:" + hashlib.blake2b(s.encode(), digest_size=32).hexdigest()
	lst = [{"embeddings": fp("emb%d" % i), "labels": fp("lab%d" % i), "rows": r} for i, r in enumerate(sizes)]
	lines = "".join("%s %s %d\n" % (s["embeddings"], s["labels"], s["rows"]) for s in lst)
	d["shards"] = {"count": count, "rows": rows, "fingerprint": fp(lines), "list": lst}
	json.dump(d, open(out, "w"))
	PYEOF
}

test_expect_success 'setup: v1 trained from scratch, the new task measured by resque measure task --json' '
	expect_success resque init p && cd p &&
	printf weights1 >w1.bin &&
	make_embeddings d1 1 0 && make_embeddings d2 2 0.5 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"intensity_g_per_kwh\": 100, \"hardware\": \"rtx3090\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	expect_success resque config hardware rtx3090 &&
	expect_success resque measure task --embeddings d2-emb.npy --labels d2-lab.npy --json &&
	cp "$OUT" task.json
'

test_expect_success 'a plan from measure task --json equals the plan from the same --embeddings/--labels' '
	cd p && before=$(repo_state) &&
	plan_json --from v1 --kind task --embeddings d2-emb.npy --labels d2-lab.npy --intensity 100 --dry-run &&
	cp plan.json rows.json &&
	plan_json --from v1 --task-from task.json --intensity 100 --dry-run &&
	test "$(repo_state)" = "$before" &&
	"$PY" - rows.json plan.json task.json <<-\PYEOF
	import json, sys
	a, b, t = (json.load(open(p)) for p in sys.argv[1:4])
	a, b = a["plans"][0], b["plans"][0]
	assert b["kind"] == "task" and b["id"] is None, b
	assert a["index"] == b["index"] == t["value"], (a["index"], b["index"], t["value"])
	assert a["forecast"] == b["forecast"], (a["forecast"], b["forecast"])
	assert a["scratch"] == b["scratch"] and a["calibration"] == b["calibration"]
	assert b["candidate"] == {"task_from": {"path": "task.json"}}, b["candidate"]
	assert "shards" not in b, b
	PYEOF
	plan_json --from v1 --kind task --task-from task.json --intensity 100 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"index\"]")" = "$(json_get task.json "d[\"value\"]")" &&
	expect_success resque plan --from v1 --task-from task.json --intensity 100 --dry-run &&
	grep_out "^plan from v1 on task.json \(dry run, not recorded\)" &&
	grep_out "RESQUE_task 0\.[0-9]{6}" &&
	! grep -q "shards" "$OUT"
'

test_expect_success 'recorded: the index and the file'"'"'s fingerprint as the input; no shards; verify passes' '
	cd p && plan_json --from v1 --task-from task.json --intensity 100 &&
	id=$(json_get plan.json "d[\"plans\"][0][\"id\"]") &&
	expect_success resque show "$id" --json &&
	test "$(json_get "$OUT" "d[\"type\"]")" = plan &&
	test "$(json_get "$OUT" "d[\"body\"][\"kind\"]")" = task &&
	test "$(json_get "$OUT" "d[\"body\"][\"index\"]")" = "$(json_get task.json "d[\"value\"]")" &&
	test "$(json_get "$OUT" "d[\"body\"][\"candidate\"][\"task_from\"][\"fingerprint\"]")" = \
		"b2:$(b2sum -l 256 task.json | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "\"shards\" in d[\"body\"]")" = False &&
	expect_success resque show "$id" && grep_out "RESQUE_task index" && ! grep -q "^shards" "$OUT" &&
	expect_success resque verify
'

test_expect_success 'a shard result JSON: the plan records its shards {count, rows, fingerprint}, not the list' '
	cd p && with_shards task.json sharded.json 3 &&
	plan_json --from v1 --task-from sharded.json --intensity 100 &&
	id=$(json_get plan.json "d[\"plans\"][0][\"id\"]") && echo "$id" >../sharded-id &&
	"$PY" - plan.json sharded.json <<-\PYEOF
	import json, sys
	p, s = json.load(open(sys.argv[1]))["plans"][0], json.load(open(sys.argv[2]))
	want = {k: s["shards"][k] for k in ("count", "rows", "fingerprint")}
	assert p["shards"] == want, (p["shards"], want)
	assert p["index"] == s["value"], p["index"]
	PYEOF
	expect_success resque show "$id" --json && cp "$OUT" shown.json &&
	"$PY" - shown.json sharded.json <<-\PYEOF
	import json, sys
	e, s = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
	want = {k: s["shards"][k] for k in ("count", "rows", "fingerprint")}
	assert e["body"]["shards"] == want, e["body"]["shards"]
	assert e["body"]["candidate"]["task_from"]["path"] == "sharded.json"
	PYEOF
	expect_success resque show "$id" --raw &&
	grep -q "\"shards\":{\"count\":3,\"fingerprint\":\"b2:[0-9a-f]*\",\"rows\":300}" "$OUT" &&
	! grep -q "\"list\"" "$OUT" &&
	expect_success resque show "$id" &&
	grep_out "^shards  from 3 shards, 300 rows \(shard list b2:[0-9a-f]{64}\)" &&
	expect_success resque plan --from v1 --task-from sharded.json --intensity 100 --dry-run &&
	grep_out "^  from 3 shards, 300 rows \(shard list b2:" &&
	expect_success resque log && expect_success resque verify
'

test_expect_success 'one shard is single-machine: count 1 is recorded as such' '
	cd p && with_shards task.json one.json 1 &&
	plan_json --from v1 --task-from one.json --intensity 100 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"shards\"][\"count\"]")" = 1 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"shards\"][\"rows\"]")" = 300
'

test_expect_success '--task-from with --dataset names the training set; its size is the dataset'"'"'s' '
	cd p && mkdir train && cp d2-lab.npy train/ &&
	expect_success resque dataset add train --labels train/d2-lab.npy &&
	plan_json --from v1 --task-from task.json --dataset train --intensity 100 --dry-run &&
	test "$(json_get plan.json "d[\"plans\"][0][\"train_size\"]")" = 300 &&
	test "$(json_get plan.json "d[\"plans\"][0][\"candidate\"][\"dataset\"][\"name\"]")" = train
'

test_done
