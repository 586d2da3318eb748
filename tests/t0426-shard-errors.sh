#!/bin/sh
# resque shard refuses what would give a wrong answer: a step computed
# against another state, a shard missing, one too many or unknown, a
# truncated or corrupted partial, a partial of the wrong kind, a label the
# state does not know, a done state given to update. Each names the file and leaves the
# state file as it was. Usage errors exit 2; every subcommand has --help.
. "$(dirname "$0")/lib.sh"
test_requires NUMPY
SQ="'"

cat >gen.py <<'PY'
import numpy as np
rng = np.random.default_rng(7)
c = rng.normal(0, 1, (3, 5))
for i, n in enumerate([200, 150, 90], 1):
    y = rng.integers(0, 3, n)
    np.save('e%d.npy' % i, (c[y] + rng.normal(0, 1, (n, 5))).astype(np.float32))
    np.save('l%d.npy' % i, y * 10)
y = np.array([0, 10, 99])
np.save('u-e.npy', rng.normal(0, 1, (3, 5)).astype(np.float32)); np.save('u-l.npy', y)
PY

# unchanged_state STATUS MESSAGE CMD...: CMD fails with STATUS saying
# MESSAGE and state.rqp keeps its bytes.
unchanged_state() {
	cp state.rqp state.before &&
	expect_error "$@" &&
	compare state.before state.rqp
}

steps() { # SUFFIX: the three shards' steps against state.rqp
	for i in 1 2 3; do
		resque shard step --state state.rqp -e e$i.npy -l l$i.npy -o "step$i$1.rqp" >/dev/null || return 1
	done
}

test_expect_success 'setup: stats, a state, steps of iteration 0, then state 1' '
	"$PY" gen.py &&
	for i in 1 2 3; do resque shard stats -e e$i.npy -l l$i.npy -o stats$i.rqp >/dev/null || return 1; done &&
	resque shard init -o state.rqp stats1.rqp stats2.rqp stats3.rqp >/dev/null &&
	cp state.rqp state0.rqp && steps -it0 &&
	expect_success resque shard update --state state.rqp step1-it0.rqp step2-it0.rqp step3-it0.rqp &&
	grep_out "^iteration 1: shift [0-9.e+-]+, tol [0-9.e+-]+, changed unknown, not done$" &&
	cp state.rqp state1.rqp && steps ""
'

test_expect_success 'a step of another state is refused, naming it' '
	unchanged_state 1 "step2-it0.rqp: computed against another state (of iteration 0; this state is at iteration 1)" \
		resque shard update --state state.rqp step1.rqp step2-it0.rqp step3.rqp
'

test_expect_success 'a missing shard is refused' '
	unchanged_state 1 "state.rqp: shard 2 of 3 (150 rows) has no step partial among the files given" \
		resque shard update --state state.rqp step1.rqp step3.rqp
'

test_expect_success 'a shard given more often than the state holds it is refused, also inside a merged partial' '
	unchanged_state 1 "step1.rqp, entry 1 of 1: shard 1 of 3 (200 rows) again, already covered by step1.rqp: the state holds it 1 time" \
		resque shard update --state state.rqp step1.rqp step2.rqp step3.rqp step1.rqp &&
	resque shard merge -o m12.rqp step1.rqp step2.rqp >/dev/null &&
	unchanged_state 1 "m12.rqp, entry 1 of 2: shard 1 of 3 (200 rows) again, already covered by step1.rqp" \
		resque shard update --state state.rqp step1.rqp m12.rqp step3.rqp &&
	unchanged_state 1 "step1.rqp, entry 1 of 1: shard 1 of 3 (200 rows) again, already covered by step1.rqp" \
		resque shard update --state state.rqp step1.rqp step1.rqp step3.rqp
'

test_expect_success 'a shard the state does not know is refused' '
	"$PY" -c "
import numpy as np
X = np.load(\"e3.npy\"); X[0, 0] += 1; np.save(\"e3c.npy\", X)" &&
	resque shard step --state state.rqp -e e3c.npy -l l3.npy -o step3c.rqp >/dev/null &&
	unchanged_state 1 "step3c.rqp, entry 1 of 1 (90 rows): not one of the state${SQ}s shards" \
		resque shard update --state state.rqp step1.rqp step2.rqp step3c.rqp
'

test_expect_success 'a truncated partial is refused (1), a corrupted one is an integrity error (3)' '
	head -c 300 step2.rqp >trunc.rqp &&
	unchanged_state 1 "trunc.rqp: header says 1 shards" \
		resque shard update --state state.rqp step1.rqp trunc.rqp step3.rqp &&
	head -c 20 step2.rqp >short.rqp &&
	unchanged_state 1 "short.rqp: not a resque partial (bad magic or too short)" \
		resque shard update --state state.rqp step1.rqp short.rqp step3.rqp &&
	"$PY" -c "
b = bytearray(open(\"step2.rqp\", \"rb\").read()); b[200] ^= 1
open(\"bad.rqp\", \"wb\").write(bytes(b))" &&
	unchanged_state 3 "bad.rqp: checksum mismatch (the partial is corrupt or truncated)" \
		resque shard update --state state.rqp step1.rqp bad.rqp step3.rqp &&
	unchanged_state 1 "nothere.rqp" \
		resque shard update --state state.rqp step1.rqp nothere.rqp step3.rqp
'

test_expect_success 'a partial of the wrong kind is refused' '
	unchanged_state 1 "stats2.rqp: a stats partial, not a step partial" \
		resque shard update --state state.rqp step1.rqp stats2.rqp step3.rqp &&
	unchanged_state 1 "step1.rqp: a step partial, not a state" \
		resque shard update --state step1.rqp step1.rqp step2.rqp step3.rqp &&
	unchanged_state 1 "step1.rqp: a step partial, not a stats partial" \
		resque shard init -o state.rqp stats1.rqp step1.rqp &&
	unchanged_state 1 "stats2.rqp: a stats partial cannot be merged with a step partial" \
		resque shard merge -o state.rqp step1.rqp stats2.rqp &&
	unchanged_state 1 "step1.rqp: a step partial, not a final partial" \
		resque shard result --state state.rqp step1.rqp step2.rqp step3.rqp
'

test_expect_success 'merging steps of different states is refused' '
	expect_error 1 "step2-it0.rqp: computed against another state (iteration 0) than the partials before it (iteration 1)" \
		resque shard merge -o mm.rqp step1.rqp step2-it0.rqp &&
	test ! -e mm.rqp
'

test_expect_success 'run to the end; a done state is refused by update and step' '
	i=0 &&
	while [ "$i" -lt 100 ]; do
		i=$((i + 1)) &&
		steps "" &&
		resque shard update --json --state state.rqp step1.rqp step2.rqp step3.rqp >up.json || return 1
		[ "$(json_get up.json "d[\"done\"]")" = True ] && break
	done &&
	test "$(json_get up.json "d[\"done\"]")" = True &&
	i=$(json_get up.json "d[\"iteration\"]") &&
	unchanged_state 1 "state.rqp: the state is done (iteration $i)" \
		resque shard update --state state.rqp step1.rqp step2.rqp step3.rqp &&
	unchanged_state 1 "state.rqp: the state is done (iteration $i): run the final step (--final)" \
		resque shard step --state state.rqp -e e1.npy -l l1.npy -o late.rqp &&
	test ! -e late.rqp &&
	expect_error 1 "state0.rqp: the state is not done (iteration 0): --final needs the last state" \
		resque shard step --final --state state0.rqp -e e1.npy -l l1.npy -o fin.rqp &&
	test ! -e fin.rqp
'

test_expect_success 'an unknown label in --final is refused, naming the file and the label' '
	unchanged_state 1 "u-l.npy: label 99 (row 2) is not one of the state${SQ}s 3 labels" \
		resque shard step --final --state state.rqp -e u-e.npy -l u-l.npy -o fin.rqp &&
	test ! -e fin.rqp
'

test_expect_success 'result: a missing final partial is refused; then the result' '
	for i in 1 2 3; do
		resque shard step --final --state state.rqp -e e$i.npy -l l$i.npy -o final$i.rqp >/dev/null || return 1
	done &&
	unchanged_state 1 "state.rqp: shard 3 of 3 (90 rows) has no final partial among the files given" \
		resque shard result --state state.rqp final1.rqp final2.rqp &&
	expect_error 1 "final1.rqp: computed against another state" \
		resque shard result --state state0.rqp final1.rqp final2.rqp final3.rqp &&
	expect_success resque shard result --state state.rqp final3.rqp final1.rqp final2.rqp &&
	grep_out "^RESQUE_task 0\.[0-9]{9}$" && grep_out "^classes 3, rows 440, init centroids$"
'

test_expect_success 'a bad --previous is refused, naming it as an assignment' '
	cp state1.rqp s.rqp &&
	"$PY" -c "
import numpy as np
np.save(\"p-short.npy\", np.zeros(10, np.int32)); np.save(\"p-range.npy\", np.full(200, 3, np.int32))
np.save(\"p-float.npy\", np.zeros(200, np.float32)); np.save(\"p-ok.npy\", np.zeros(200, np.int32))" &&
	expect_error 1 "p-short.npy: an assignment of 10 rows for a shard of 200 rows" \
		resque shard step --state s.rqp -e e1.npy -l l1.npy -o p.rqp --previous p-short.npy &&
	expect_error 1 "p-range.npy: cluster 3 at row 0 is not one of the state${SQ}s 3" \
		resque shard step --state s.rqp -e e1.npy -l l1.npy -o p.rqp --previous p-range.npy &&
	expect_error 1 "p-float.npy: not an assignment (a 1-D integer .npy of cluster indices, as --assignment writes): f4 of 1 dimension" \
		resque shard step --state s.rqp -e e1.npy -l l1.npy -o p.rqp --previous p-float.npy &&
	! grep -q label "$ERR" &&
	expect_error 1 "state0.rqp: a previous assignment is given but the state is at iteration 0, before any assignment" \
		resque shard step --state state0.rqp -e e1.npy -l l1.npy -o p.rqp --previous p-ok.npy &&
	test ! -e p.rqp
'

test_expect_success 'usage errors exit 2; every subcommand has --help' '
	expect_failure 2 resque shard stats -e e1.npy -l l1.npy &&
	grep_err "output" &&
	expect_failure 2 resque shard step -e e1.npy -l l1.npy -o x.rqp &&
	expect_failure 2 resque shard init -o s.rqp &&
	expect_failure 2 resque shard init -o s.rqp stats1.rqp --max-iter 0 &&
	expect_failure 2 resque shard init -o s.rqp stats1.rqp --tol -1 &&
	expect_failure 2 resque shard step --state s.rqp -e e1.npy -l l1.npy -o x.rqp --threads 999 &&
	expect_failure 2 resque shard update --state s.rqp &&
	for sub in stats step merge init update result; do
		expect_success resque shard $sub --help && grep_out "^usage: resque shard $sub" || return 1
	done &&
	expect_success resque shard --help && grep_out "result"
'

test_done
