#!/bin/sh
# resque commit, show, log --graph and diff: model versions and lineage.
. "$(dirname "$0")/lib.sh"
test_requires B2SUM NUMPY

mkemb() { # OUT-PREFIX SEED D SHIFT: embeddings (N×D float32) and labels for 3 classes
	"$PY" - "$@" <<-'PYEOF'
	import sys, numpy as np
	out, seed, d, shift = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
	g = np.random.default_rng(seed)
	y = g.integers(0, 3, 300)
	centres = np.random.default_rng(7).standard_normal((3, d)) * 2
	x = centres[y] + g.standard_normal((300, d)) + shift
	np.save(out + "-emb.npy", x.astype(np.float32))
	np.save(out + "-lab.npy", y.astype(np.int64))
	PYEOF
}

test_expect_success 'setup: a repository, weights, embeddings, cost files' '
	expect_success resque init p && cd p &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w1.safetensors 1 &&
	"$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w2.safetensors 1 --scale 0.1 --drop bn1.bias --add extra.weight &&
	mkemb d1 1 8 0 && mkemb d2 2 8 0.5 && mkemb wide 3 16 0 &&
	printf "{\"epochs\": 30, \"energy_kwh\": 12.5, \"duration_s\": 7200, \"intensity_g_per_kwh\": 56, \"pue\": 1.2, \"hardware\": \"rtx3090\", \"method\": \"measured\"}" >cost1.json &&
	printf "{\"epochs\": 6, \"energy_kwh\": 2.5, \"duration_s\": 1500, \"carbon_kg\": 0.3}" >cost2.json
'

test_expect_success 'commit v1 records weights, summary and cost' '
	cd p && expect_success resque commit --weights w1.safetensors --name v1 \
		--embeddings d1-emb.npy --labels d1-lab.npy --cost cost1.json -m "trained from scratch" &&
	grep_out "version v1" &&
	expect_success resque show v1 --json &&
	test "$(json_get "$OUT" "d[\"name\"]")" = v1 &&
	test "$(json_get "$OUT" "d[\"fingerprint\"]")" = "b2:$(b2sum -l 256 w1.safetensors | cut -d" " -f1)" &&
	test "$(json_get "$OUT" "d[\"parent\"]")" = None &&
	test "$(json_get "$OUT" "d[\"cost\"][\"epochs\"] == 30")" = True &&
	test "$(json_get "$OUT" "d[\"cost\"][\"method\"]")" = measured &&
	test "$(json_get "$OUT" "abs(d[\"cost\"][\"carbon_kg\"] - 12.5 * 1.2 * 56 / 1000) < 1e-12")" = True &&
	test "$(json_get "$OUT" "d[\"cumulative\"][\"energy_kwh\"] == 12.5")" = True &&
	test "$(json_get "$OUT" "d[\"body\"][\"weights\"][\"path\"]")" = w1.safetensors &&
	test "$(json_get "$OUT" "d[\"body\"][\"summary\"][\"classes\"]")" = 3 &&
	expect_success resque verify
'

test_expect_success 'commit v2 from v1; cumulative cost sums the lineage' '
	cd p && expect_success resque summarize d2-emb.npy --labels d2-lab.npy -o d2.rqs &&
	expect_success resque commit --weights w2.safetensors --name v2 --parent v1 --summary d2.rqs \
		--cost cost2.json --meta lr=0.01 --meta note=shifted --family resnet &&
	expect_success resque show v2 --json &&
	test "$(json_get "$OUT" "d[\"parent\"]")" = v1 &&
	test "$(json_get "$OUT" "d[\"lineage\"]")" = "[$(printf "%s" "'"'"'v1'"'"', '"'"'v2'"'"'")]" &&
	test "$(json_get "$OUT" "abs(d[\"cumulative\"][\"energy_kwh\"] - 15.0) < 1e-12")" = True &&
	test "$(json_get "$OUT" "abs(d[\"cumulative\"][\"carbon_kg\"] - (12.5*1.2*56/1000 + 0.3)) < 1e-12")" = True &&
	test "$(json_get "$OUT" "d[\"cumulative\"][\"complete\"]")" = True &&
	test "$(json_get "$OUT" "d[\"body\"][\"meta\"][\"lr\"]")" = 0.01 &&
	expect_success resque show v2 && grep_out "lineage v1 -> v2" && grep_out "meta    lr=0.01" &&
	expect_success resque verify
'

test_expect_success 'references: names, latest, REF~N, id prefixes' '
	cd p && v1=$(resque show v1 --json | json_get /dev/stdin "d[\"id\"]") &&
	expect_success resque show latest --json && test "$(json_get "$OUT" "d[\"name\"]")" = v2 &&
	expect_success resque show latest~1 --json && test "$(json_get "$OUT" "d[\"name\"]")" = v1 &&
	expect_success resque show v2~ --json && test "$(json_get "$OUT" "d[\"name\"]")" = v1 &&
	expect_success resque show "$(echo "$v1" | cut -c1-8)" --json && test "$(json_get "$OUT" "d[\"name\"]")" = v1 &&
	expect_error 1 "only 1 ancestor" resque show v2~2 &&
	expect_error 1 "not a version reference" resque show "v2~x" &&
	expect_error 1 "no version named" resque show v9~1
'

test_expect_success 'log shows versions; --graph draws the lineage' '
	cd p && expect_success resque log --type version --json && test "$(json_get "$OUT" "[e[\"name\"] for e in d]")" = "[$(printf "%s" "'"'"'v2'"'"', '"'"'v1'"'"'")]" &&
	expect_success resque commit --weights w1.safetensors --name v2b --parent v1 &&
	expect_success resque log --graph &&
	head -1 "$OUT" | grep -q "version v1" &&
	grep -q "^|-- .*version v2 (from v1)" "$OUT" && grep -q "^\`-- .*version v2b (from v1)" "$OUT" &&
	expect_success resque log --graph --json &&
	test "$(json_get "$OUT" "[e[\"parent\"] is None for e in d if e[\"type\"]==\"version\"]")" = "[True, False, False]"
'

test_expect_success 'bad input is refused and nothing is written' '
	cd p && repo_state >before &&
	expect_failure 1 resque commit --weights w1.safetensors --name v1 && grep_err "a version named .v1. exists already" &&
	expect_failure 1 resque commit --weights w1.safetensors --name v3 --parent nope && grep_err "no version named or identified by .nope." &&
	expect_error 1 "dimension 16 but the parent v1" resque commit --weights w1.safetensors --name v3 --parent v1 --embeddings wide-emb.npy --labels wide-lab.npy &&
	printf "{\"epochs\": 3," >broken.json &&
	expect_error 1 "broken.json: invalid JSON" resque commit --weights w1.safetensors --name v3 --cost broken.json &&
	printf "{\"epochs\": 3, \"energy_kwh\": 1, \"duration_s\": 1, \"enrgy\": 2}" >typo.json &&
	expect_failure 1 resque commit --weights w1.safetensors --name v3 --cost typo.json && grep_err "typo.json: unknown key .enrgy." &&
	printf "{\"epochs\": 3, \"energy_kwh\": -1, \"duration_s\": 1}" >neg.json &&
	expect_error 1 "must be a finite number >= 0" resque commit --weights w1.safetensors --name v3 --cost neg.json &&
	printf "{\"epochs\": 3, \"duration_s\": 1}" >missing.json &&
	expect_error 1 "is missing" resque commit --weights w1.safetensors --name v3 --cost missing.json &&
	expect_error 1 "nothere.safetensors" resque commit --weights nothere.safetensors --name v3 &&
	expect_error 1 "nor a directory to record" resque commit --weights w1.safetensors --name v3 --data nosuch &&
	expect_failure 2 resque commit --weights w1.safetensors --name latest &&
	expect_failure 2 resque commit --weights w1.safetensors --name "a b" &&
	expect_failure 2 resque commit --weights w1.safetensors --name v3 --embeddings d1-emb.npy &&
	expect_failure 2 resque commit --name v3 &&
	expect_failure 2 resque commit --weights w1.safetensors --name v3 --meta novalue &&
	repo_state >after && compare before after
'

test_expect_success 'weights that change while being hashed are refused' '
	cd p && head -c 200000000 /dev/zero >big.bin && repo_state >before || return 1
	( while :; do touch big.bin; done ) &
	toucher=$!
	expect_failure 1 resque commit --weights big.bin --name v3 && grep_err "big.bin: .*changed while"
	rc=$?; kill $toucher; wait $toucher 2>/dev/null
	rm -f big.bin; test $rc = 0 &&
	repo_state >after && compare before after
'

test_expect_success 'diff: the representation shift equals numpy'"'"'s RESQUE_dist' '
	cd p && expect_success resque diff v1 v2 --json &&
	"$PY" - "$OUT" <<-PYEOF
	import json, sys, numpy as np
	d = json.load(open(sys.argv[1]))
	def sums(p):
	    x = np.load(p + "-emb.npy").astype(np.float64); y = np.load(p + "-lab.npy")
	    return {int(c): x[y == c].sum(0) for c in np.unique(y)}
	a, b = sums("d1"), sums("d2")
	ang = []
	for c in sorted(set(a) & set(b)):
	    cos = a[c] @ b[c] / np.linalg.norm(a[c]) / np.linalg.norm(b[c])
	    ang.append(np.arccos(np.clip(cos, -1, 1)) / np.pi)
	r = d["representation"]
	assert r["kind"] == "dist"
	assert abs(r["value"] - np.mean(ang)) < 1e-9, (r["value"], np.mean(ang))
	assert d["from"] == "v1" and d["to"] == "v2"
	PYEOF
'

test_expect_success 'diff --params equals numpy'"'"'s per-tensor change' '
	cd p && expect_success resque diff v1 v2 --params --json &&
	"$PY" - "$OUT" <<-PYEOF
	import json, struct, sys, numpy as np
	def load(path):
	    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
	    h = json.loads(b[8:8 + n]); out = {}
	    for k, v in h.items():
	        if k == "__metadata__": continue
	        dt = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}[v["dtype"]]
	        s, e = v["data_offsets"]
	        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=dt).astype(np.float64)
	    return out
	a, b = load("w1.safetensors"), load("w2.safetensors")
	d = json.load(open(sys.argv[1]))["params"]
	got = {t["name"]: t["change"] for t in d["tensors"]}
	want = {k: np.linalg.norm(b[k] - a[k]) / np.sqrt(a[k].size) for k in sorted(set(a) & set(b))}
	assert set(got) == set(want), (got, want)
	for k in want:
	    assert abs(got[k] - want[k]) <= 1e-9 * max(1, want[k]), (k, got[k], want[k])
	assert abs(d["mean"] - np.mean(list(want.values()))) < 1e-9
	assert d["only_from"] == ["bn1.bias"], d["only_from"]
	assert d["only_to"] == ["extra.weight"], d["only_to"]
	PYEOF
'

test_expect_success 'diff --params refuses weights whose fingerprint changed, accepts files given' '
	cd p && cp w2.safetensors w2.orig && "$PY" "$RQ_ROOT/tests/data/make_safetensors.py" w2.safetensors 5 &&
	expect_error 1 "fingerprint changed" resque diff v1 v2 --params &&
	expect_success resque diff v1 v2 --params w1.safetensors w2.orig &&
	grep_out "mean" && mv w2.orig w2.safetensors &&
	expect_failure 2 resque diff v1 v2 w1.safetensors w2.safetensors
'

test_expect_success 'datasets: commit records directories; diff lists dataset and file changes' '
	cd p && mkdir -p train val && echo a >train/a && echo b >train/b && echo v >val/x &&
	expect_success resque dataset add val &&
	expect_success resque commit --weights w1.safetensors --name d1 --data train --data val &&
	grep_err "recorded dataset train" &&
	expect_success resque show d1 --json &&
	test "$(json_get "$OUT" "sorted(x[\"name\"] for x in d[\"body\"][\"datasets\"])")" = "[$(printf "%s" "'"'"'train'"'"', '"'"'val'"'"'")]" &&
	mkdir train2 && echo a >train2/a && echo B >train2/b && echo c >train2/c &&
	expect_success resque dataset add train2 --name train-v2 &&
	mkdir test && echo t >test/t && expect_success resque dataset add test &&
	expect_success resque commit --weights w2.safetensors --name d2 --parent d1 --data train-v2 --data test &&
	expect_success resque diff d1 d2 --json &&
	test "$(json_get "$OUT" "sorted(x[\"name\"] for x in d[\"datasets\"][\"added\"])")" = "[$(printf "%s" "'"'"'test'"'"', '"'"'train-v2'"'"'")]" &&
	test "$(json_get "$OUT" "sorted(x[\"name\"] for x in d[\"datasets\"][\"removed\"])")" = "[$(printf "%s" "'"'"'train'"'"', '"'"'val'"'"'")]" &&
	expect_success resque verify
'

test_expect_success 'diff --files lists the files changed inside a changed dataset' '
	cd p && mkdir -p imgs && echo 1 >imgs/one && echo 2 >imgs/two &&
	expect_success resque dataset add imgs --name imgs &&
	expect_success resque commit --weights w1.safetensors --name f1 --data imgs &&
	echo 22 >imgs/two && echo 3 >imgs/three && rm imgs/one &&
	expect_success resque dataset add imgs --name imgs2 &&
	expect_success resque commit --weights w1.safetensors --name f2 --parent f1 --data imgs2 &&
	expect_success resque diff f1 f2 --files --json &&
	test "$(json_get "$OUT" "len(d[\"datasets\"][\"changed\"])")" = 1 &&
	test "$(json_get "$OUT" "d[\"datasets\"][\"changed\"][0][\"name\"]")" = imgs2 &&
	test "$(json_get "$OUT" "d[\"datasets\"][\"changed\"][0][\"files\"]")" = "[{'"'"'path'"'"': '"'"'one'"'"', '"'"'change'"'"': '"'"'removed'"'"'}, {'"'"'path'"'"': '"'"'three'"'"', '"'"'change'"'"': '"'"'added'"'"'}, {'"'"'path'"'"': '"'"'two'"'"', '"'"'change'"'"': '"'"'changed'"'"'}]" &&
	expect_success resque diff f1 f2 --files && grep_out "^      D one$" && grep_out "^      A three$" && grep_out "^      M two$"
'

test_done
