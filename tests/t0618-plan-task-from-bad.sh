#!/bin/sh
# resque plan --task-from FILE refuses every bad file (issue 18): missing,
# not JSON, not a task, an index out of range / NaN / a string, n or k or
# iterations 0, shards whose rows are not n, and the options it does not go
# with. Each exits non-zero naming the file and the field; the ledger is
# unchanged (same refs, same count of entries).
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

# task FILE FIELD=JSON...: a measure task --json document with fields replaced
task() {
	"$PY" - "$@" <<-'PYEOF'
	import json, sys
	d = {"kind": "task", "value": 0.25, "ari": 0.75, "iterations": 4, "k": 3, "n": 300, "init": "centroids"}
	out = sys.argv[1]
	for a in sys.argv[2:]:
	    k, v = a.split("=", 1)
	    if v == "DEL":
	        del d[k]
	    else:
	        d[k] = json.loads(v)
	with open(out, "w") as f:
	    f.write(json.dumps(d, allow_nan=True))
	PYEOF
}

entries() { git --git-dir=.resque rev-list --count refs/heads/ledger; }

test_expect_success 'setup: v1, and a good file that plans' '
	expect_success resque init p && cd p &&
	printf weights1 >w1.bin && make_embeddings d1 1 0 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"hardware\": \"gpu\"}" >cost1.json &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json &&
	task good.json &&
	expect_success resque plan --from v1 --task-from good.json --dry-run --json &&
	test "$(json_get "$OUT" "d[\"plans\"][0][\"index\"]")" = 0.25
'

test_expect_success 'bad files: exit 1 naming the file and the field; nothing recorded' '
	cd p && repo_state >before && n=$(entries) && test "$n" -gt 1 &&
	expect_error 1 "nothere.json: cannot read" resque plan --from v1 --task-from nothere.json &&
	printf "kind: task\n" >notjson.json &&
	expect_error 1 "notjson.json: invalid JSON" resque plan --from v1 --task-from notjson.json &&
	printf "[1, 2]\n" >array.json &&
	expect_error 1 "array.json: not a JSON object" resque plan --from v1 --task-from array.json &&
	task dist.json "kind=\"dist\"" &&
	expect_error 1 "dist.json: '"'"'kind'"'"' is \"dist\", not \"task\"" resque plan --from v1 --task-from dist.json &&
	task nokind.json kind=DEL &&
	expect_error 1 "nokind.json: '"'"'kind'"'"' is missing" resque plan --from v1 --task-from nokind.json &&
	task high.json value=2.5 &&
	expect_error 1 "high.json: '"'"'value'"'"' is 2.5, outside RESQUE_task'"'"'s range [0, 2]" \
		resque plan --from v1 --task-from high.json &&
	task neg.json value=-0.01 &&
	expect_error 1 "neg.json: '"'"'value'"'"' is -0.01, outside" resque plan --from v1 --task-from neg.json &&
	task nan.json value=NaN && grep -q "NaN" nan.json &&
	expect_error 1 "nan.json: '"'"'value'"'"' is not a finite number" resque plan --from v1 --task-from nan.json &&
	task inf.json value=Infinity &&
	expect_error 1 "inf.json: '"'"'value'"'"' is not a finite number" resque plan --from v1 --task-from inf.json &&
	task str.json "value=\"0.25\"" &&
	expect_error 1 "str.json: '"'"'value'"'"' must be a number" resque plan --from v1 --task-from str.json &&
	task novalue.json value=DEL &&
	expect_error 1 "novalue.json: '"'"'value'"'"' is missing" resque plan --from v1 --task-from novalue.json &&
	task n0.json n=0 &&
	expect_error 1 "n0.json: '"'"'n'"'"' is 0, it must be at least 1" resque plan --from v1 --task-from n0.json &&
	task k0.json k=0 &&
	expect_error 1 "k0.json: '"'"'k'"'"' is 0, it must be at least 1" resque plan --from v1 --task-from k0.json &&
	task it0.json iterations=0 &&
	expect_error 1 "it0.json: '"'"'iterations'"'"' is 0" resque plan --from v1 --task-from it0.json &&
	task nreal.json n=300.5 &&
	expect_error 1 "nreal.json: '"'"'n'"'"' must be a whole number" resque plan --from v1 --task-from nreal.json &&
	task kbig.json k=301 &&
	expect_error 1 "kbig.json: '"'"'k'"'"' is 301, more classes than rows" resque plan --from v1 --task-from kbig.json &&
	repo_state >after && compare before after && test "$(entries)" = "$n"
'

test_expect_success 'bad shards: rows not n, no count, a malformed fingerprint, not an object; nothing recorded' '
	cd p && repo_state >before && n=$(entries) &&
	fp="\"b2:$(printf %064d 0)\"" &&
	task rows.json "shards={\"count\": 2, \"rows\": 299, \"fingerprint\": $fp, \"list\": []}" &&
	expect_error 1 "rows.json: '"'"'shards.rows'"'"' is 299, not the 300 rows of its '"'"'n'"'"'" \
		resque plan --from v1 --task-from rows.json &&
	task count.json "shards={\"rows\": 300, \"fingerprint\": $fp}" &&
	expect_error 1 "count.json: '"'"'shards.count'"'"' is missing" resque plan --from v1 --task-from count.json &&
	task count0.json "shards={\"count\": 0, \"rows\": 300, \"fingerprint\": $fp}" &&
	expect_error 1 "count0.json: '"'"'shards.count'"'"' is 0" resque plan --from v1 --task-from count0.json &&
	task fp.json "shards={\"count\": 2, \"rows\": 300, \"fingerprint\": \"b2:xyz\"}" &&
	expect_error 1 "fp.json: '"'"'shards.fingerprint'"'"' must be a fingerprint" resque plan --from v1 --task-from fp.json &&
	task obj.json "shards=[1, 2]" &&
	expect_error 1 "obj.json: '"'"'shards'"'"' must be an object" resque plan --from v1 --task-from obj.json &&
	task rowsnan.json "shards={\"count\": 2, \"rows\": NaN, \"fingerprint\": $fp}" &&
	expect_error 1 "rowsnan.json: '"'"'rows'"'"' is not a finite number" resque plan --from v1 --task-from rowsnan.json &&
	: the same refusals with --dry-run &&
	expect_error 1 "rows.json: '"'"'shards.rows'"'"' is 299" resque plan --from v1 --task-from rows.json --dry-run --json &&
	repo_state >after && compare before after && test "$(entries)" = "$n"
'

test_expect_success 'claims that contradict themselves: the list against count, rows and fingerprint, ari, max_iter, tol' '
	cd p && repo_state >before && n=$(entries) &&
	"$PY" - <<-\PYEOF &&
	import hashlib, json
	z = "b2:" + "0" * 64
	o = "b2:" + "1" * 64
	lst = [{"embeddings": z, "labels": o, "rows": 100}, {"embeddings": o, "labels": z, "rows": 200}]
	lines = "".join("%s %s %d\n" % (e["embeddings"], e["labels"], e["rows"]) for e in lst)
	fp = "b2:" + hashlib.blake2b(lines.encode(), digest_size=32).hexdigest()
	base = {"kind": "task", "value": 0.25, "ari": 0.75, "iterations": 4, "k": 3, "n": 300, "init": "centroids"}
	def w(name, **kw):
	    d = dict(base)
	    d.update(kw)
	    open(name, "w").write(json.dumps(d))
	w("listok.json", shards={"count": 2, "rows": 300, "fingerprint": fp, "list": lst})
	w("listcount.json", shards={"count": 3, "rows": 300, "fingerprint": fp, "list": lst})
	w("listfp.json", shards={"count": 2, "rows": 300, "fingerprint": z, "list": lst})
	w("listrows.json", shards={"count": 2, "rows": 300, "fingerprint": fp,
	  "list": [lst[0], dict(lst[1], rows=150)]})
	w("listbad.json", shards={"count": 2, "rows": 300, "fingerprint": fp, "list": [lst[0], {"rows": 200}]})
	w("ari.json", ari=0.5)
	w("maxiter.json", max_iter=1)
	w("tol.json", tol=0.5)
	w("defaults.json", max_iter=300, tol=1e-4)
	PYEOF
	expect_success resque plan --from v1 --task-from listok.json --dry-run &&
	expect_success resque plan --from v1 --task-from defaults.json --dry-run &&
	expect_error 1 "listcount.json: '"'"'shards.list'"'"' has 2 shards, '"'"'shards.count'"'"' says 3" \
		resque plan --from v1 --task-from listcount.json &&
	expect_error 1 "listfp.json: '"'"'shards.fingerprint'"'"' is not the fingerprint of '"'"'shards.list'"'"'" \
		resque plan --from v1 --task-from listfp.json &&
	expect_error 1 "listrows.json: the rows of '"'"'shards.list'"'"' add up to 250, not '"'"'shards.rows'"'"' 300" \
		resque plan --from v1 --task-from listrows.json &&
	expect_error 1 "listbad.json: '"'"'shards.list[1]'"'"' must have fingerprints" \
		resque plan --from v1 --task-from listbad.json &&
	expect_error 1 "ari.json: '"'"'ari'"'"' is not 1 - '"'"'value'"'"'" resque plan --from v1 --task-from ari.json &&
	expect_error 1 "maxiter.json: '"'"'max_iter'"'"' is not 300" resque plan --from v1 --task-from maxiter.json &&
	expect_error 1 "tol.json: '"'"'tol'"'"' is not 1e-4" resque plan --from v1 --task-from tol.json &&
	expect_error 2 "no --embeddings, --labels, --summary, --shards or --tensor" \
		resque plan --from v1 --task-from good.json --tensor emb &&
	repo_state >after && compare before after && test "$(entries)" = "$n"
'

test_expect_success 'options --task-from does not go with: usage errors (exit 2), nothing recorded' '
	cd p && repo_state >before && n=$(entries) &&
	expect_error 2 "--task-from FILE gives a RESQUE_task index: it goes with --kind task, not --kind dist" \
		resque plan --from v1 --task-from good.json --kind dist &&
	expect_error 2 "--task-from FILE is the new data'"'"'s index: no --embeddings, --labels, --summary" \
		resque plan --from v1 --task-from good.json --embeddings d1-emb.npy --labels d1-lab.npy &&
	expect_error 2 "--task-from FILE is the new data'"'"'s index" \
		resque plan --from v1 --task-from good.json --embeddings d1-emb.npy &&
	expect_error 2 "--task-from FILE is the new data'"'"'s index" \
		resque plan --from v1 --task-from good.json --summary x.rqs &&
	expect_error 2 "--task-from FILE is the new data'"'"'s index" \
		resque plan --from v1 --task-from good.json --shards good.json &&
	expect_error 2 "--backtest replays recorded history" resque plan --backtest --from v1 --task-from good.json &&
	expect_error 2 "say which version" resque plan --task-from good.json &&
	repo_state >after && compare before after && test "$(entries)" = "$n"
'

test_done
