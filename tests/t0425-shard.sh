#!/bin/sh
# resque shard: RESQUE_task over shards run through the CLI (stats, init,
# step, update, step --final, result) gives what `resque measure task`
# gives on the concatenated data: the same labels (--assignment), the same
# iteration count and the same ARI and value as printed; with uneven shard
# sizes, a shard without some classes, a shard of one row, the shards in
# another order, the partials merged as a tree, the same shard given more
# than once, and two shards of one identity (the same rows, labels, first
# and last row) that differ in a row between.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

# gen.py: shards sh1..sh5 (emb/lab), of 900, 1 (a label no other row of
# its neighbours has nearby), 1300 (classes 3 and 40 absent), 17 and 1782
# rows, overlapping clusters so that Lloyd takes several iterations.
cat >gen.py <<'PY'
import numpy as np
rng = np.random.default_rng(42)
d, k = 12, 6
vals = np.array([-7, -2, 0, 3, 11, 40])
c = rng.normal(0, 0.7, (k, d))
def shard(n, allowed):
    y = rng.choice(allowed, n)
    X = (c[y] + rng.normal(0, 1, (n, d))).astype(np.float32)
    return X, vals[y]
sizes = [(900, range(6)), (1, [5]), (1300, [0, 1, 2, 4]), (17, range(6)), (1782, range(6))]
for i, (n, allowed) in enumerate(sizes, 1):
    X, y = shard(n, list(allowed))
    np.save('sh%d-emb.npy' % i, X); np.save('sh%d-lab.npy' % i, y)
# sh6: sh1 with a row in the middle moved; the same identity as sh1.
X = np.load('sh1-emb.npy'); X[450] += 0.75
np.save('sh6-emb.npy', X); np.save('sh6-lab.npy', np.load('sh1-lab.npy'))
PY

# cat.py OUT I...: the concatenation of shards I... as OUT-emb.npy, OUT-lab.npy;
# joined.py OUT A...: the int32 .npy assignments A... joined as text lines.
cat >cat.py <<'PY'
import sys, numpy as np
out, ids = sys.argv[1], sys.argv[2:]
np.save(out + '-emb.npy', np.concatenate([np.load('sh%s-emb.npy' % i) for i in ids]))
np.save(out + '-lab.npy', np.concatenate([np.load('sh%s-lab.npy' % i) for i in ids]))
PY
cat >joined.py <<'PY'
import sys, numpy as np
a = np.concatenate([np.load(p) for p in sys.argv[2:]])
assert a.dtype == np.int32
np.savetxt(sys.argv[1], a, fmt='%d')
PY
# same.py SINGLE.json SHARDED.json: the same measure, exactly.
cat >same.py <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for key in ('kind', 'value', 'ari', 'iterations', 'k', 'n', 'init'):
    assert a[key] == b[key], (key, a[key], b[key])
assert b['shards']['rows'] == a['n'], b['shards']
assert sum(s['rows'] for s in b['shards']['list']) == a['n']
print(a['iterations'], a['ari'])
PY

# drive TAG MODE I...: the driver's loop over shards I... (MODE flat: every
# partial to update/init; tree: merged pairwise first). Leaves TAG.json (the
# result), TAG.txt (its text form), TAG.a (the labels, one per line). The
# partials are named by position (TAG-stats1.rqp is the first shard's), so
# that a shard may be given more than once.
drive() {
	_tag=$1 _mode=$2
	shift 2
	_stats='' _n=0
	for _s in "$@"; do
		_n=$((_n + 1))
		resque shard stats -e "sh$_s-emb.npy" -l "sh$_s-lab.npy" -o "$_tag-stats$_n.rqp" >/dev/null || return 1
		_stats="$_stats $_tag-stats$_n.rqp"
	done
	# shellcheck disable=SC2086
	_tree "$_tag-stats" $_stats || return 1
	# shellcheck disable=SC2086
	resque shard init -o "$_tag-state.rqp" $_parts >/dev/null || return 1
	_it=0
	while :; do
		_it=$((_it + 1))
		[ "$_it" -le 300 ] || return 1
		_steps='' _n=0
		for _s in "$@"; do
			_n=$((_n + 1)) _prev=
			[ -f "$_tag-a$_n.npy" ] && _prev="--previous $_tag-a$_n.npy"
			# shellcheck disable=SC2086
			resque shard step --state "$_tag-state.rqp" -e "sh$_s-emb.npy" -l "sh$_s-lab.npy" \
				-o "$_tag-step$_n.rqp" $_prev --assignment "$_tag-a$_n.npy" >/dev/null || return 1
			_steps="$_steps $_tag-step$_n.rqp"
		done
		# shellcheck disable=SC2086
		_tree "$_tag-step" $_steps || return 1
		# shellcheck disable=SC2086
		resque shard update --json --state "$_tag-state.rqp" $_parts >"$_tag-update.json" || return 1
		[ "$(json_get "$_tag-update.json" 'd["done"]')" = True ] && break
	done
	_finals='' _asg='' _n=0
	for _s in "$@"; do
		_n=$((_n + 1))
		resque shard step --final --state "$_tag-state.rqp" -e "sh$_s-emb.npy" -l "sh$_s-lab.npy" \
			-o "$_tag-final$_n.rqp" --assignment "$_tag-f$_n.npy" >/dev/null || return 1
		_finals="$_finals $_tag-final$_n.rqp"
		_asg="$_asg $_tag-f$_n.npy"
	done
	# shellcheck disable=SC2086
	_tree "$_tag-final" $_finals &&
	# shellcheck disable=SC2086
	resque shard result --json --state "$_tag-state.rqp" $_parts >"$_tag.json" &&
	# shellcheck disable=SC2086
	resque shard result --state "$_tag-state.rqp" $_parts >"$_tag.txt" &&
	# shellcheck disable=SC2086
	"$PY" joined.py "$_tag.a" $_asg
}

# _tree PREFIX FILE...: $_parts = the files (flat), or pairwise merges of
# them and then of the merges (tree), in order.
_tree() {
	_p=$1
	shift
	_parts="$*"
	[ "$_mode" = tree ] || return 0
	_level=0
	while [ "$#" -gt 1 ]; do
		_level=$((_level + 1)) _next= _j=0
		while [ "$#" -gt 0 ]; do
			_j=$((_j + 1))
			if [ "$#" -ge 2 ]; then
				resque shard merge -o "$_p-m$_level-$_j.rqp" "$1" "$2" >/dev/null || return 1
				_next="$_next $_p-m$_level-$_j.rqp"
				shift 2
			else
				_next="$_next $1"
				shift
			fi
		done
		# shellcheck disable=SC2086
		set -- $_next
	done
	_parts=$1
}

# single TAG I...: resque measure task on the concatenation of shards I...
single() {
	_tag=$1
	shift
	"$PY" cat.py "$_tag-all" "$@" &&
	resque measure task --json -e "$_tag-all-emb.npy" -l "$_tag-all-lab.npy" --assignment "$_tag-all.a" >"$_tag-all.json" &&
	resque measure task -e "$_tag-all-emb.npy" -l "$_tag-all-lab.npy" >"$_tag-all.txt"
}

check_same() { # TAG
	compare "$1-all.a" "$1.a" && compare "$1-all.txt" "$1.txt" &&
	"$PY" same.py "$1-all.json" "$1.json"
}

test_expect_success 'uneven shards, one of one row, one without two classes: as on one machine' '
	"$PY" gen.py &&
	single u 1 2 3 4 5 && drive u flat 1 2 3 4 5 && check_same u &&
	test "$(json_get u-all.json "d[\"iterations\"] > 3")" = True &&
	test "$(json_get u.json "d[\"shards\"][\"count\"]")" = 5
'

test_expect_success 'the shards in another order: as on one machine in that order' '
	single o 5 3 2 4 1 && drive o flat 5 3 2 4 1 && check_same o
'

test_expect_success 'one shard is the single machine' '
	single w 4 && drive w flat 4 && check_same w &&
	single x 1 2 3 4 5 && "$PY" cat.py sh9 1 2 3 4 5 && drive x flat 9 &&
	compare x-all.a x.a && compare x-all.txt x.txt
'

test_expect_success 'partials merged as a tree give the same result' '
	drive t tree 1 2 3 4 5 && compare u.a t.a && compare u.txt t.txt &&
	"$PY" same.py u-all.json t.json &&
	test -f t-step-m2-1.rqp && test -f t-final-m3-1.rqp
'

test_expect_success 'the same shard twice (the file given twice; a one-row shard twice): as on one machine' '
	single d 1 2 4 2 1 && drive d flat 1 2 4 2 1 && check_same d &&
	test "$(json_get d.json "d[\"shards\"][\"count\"]")" = 5 &&
	drive dt tree 1 2 4 2 1 && compare d.a dt.a && compare d.txt dt.txt
'

test_expect_success 'two shards of one identity, other rows between: as on one machine' '
	single c 1 6 && drive c flat 1 6 && check_same c &&
	cmp -n 40 -i 48 c-stats1.rqp c-stats2.rqp &&
	! cmp -s c-stats1.rqp c-stats2.rqp &&
	test "$(json_get c.json "d[\"iterations\"] > 3")" = True &&
	test "$(json_get c.json "d[\"shards\"][\"list\"][0] != d[\"shards\"][\"list\"][1]")" = True
'

test_expect_success 'the shard list fingerprint: the lines EMBFP LABFP ROWS in shard order' '
	for s in 1 2 3 4 5; do
		e=$(resque fingerprint sh$s-emb.npy | cut -d" " -f1) &&
		l=$(resque fingerprint sh$s-lab.npy | cut -d" " -f1) &&
		r=$("$PY" -c "import numpy; print(len(numpy.load(\"sh$s-lab.npy\")))") &&
		printf "%s %s %s\n" "$e" "$l" "$r" >>list.txt || return 1
	done &&
	f=$(resque fingerprint list.txt | cut -d" " -f1) &&
	test "$(json_get u.json "d[\"shards\"][\"fingerprint\"]")" = "$f" &&
	test "$(json_get t.json "d[\"shards\"][\"fingerprint\"]")" = "$f" &&
	test "$(json_get o.json "d[\"shards\"][\"fingerprint\"]")" != "$f"
'

test_expect_success 'the step without --previous: changed is null, the iterations unchanged' '
	cp u-state.rqp s0.rqp &&
	resque shard init -o s0.rqp u-stats1.rqp u-stats2.rqp u-stats3.rqp u-stats4.rqp u-stats5.rqp >/dev/null &&
	expect_success resque shard step --json --state s0.rqp -e sh1-emb.npy -l sh1-lab.npy -o p1.rqp &&
	test "$(json_get "$OUT" "d[\"changed\"] is None and d[\"kind\"] == \"step\"")" = True
'

test_done
