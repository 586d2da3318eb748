#!/bin/sh
# resque run with the CPU-time estimate really metering a busy workload:
# exit statuses, forwarded signals, failed runs, epochs and metrics through
# resque mark, the --json contract and resque show.
. "$(dirname "$0")/lib.sh"

near() { # got want relative-tolerance
	"$PY" -c "import sys; g,w,r=map(float,sys.argv[1:]); sys.exit(not abs(g-w) <= r*abs(w))" "$1" "$2" "$3"
}

# Sum of the times printed by the shell's `times` builtin ("0m0.43s 0m0.01s").
cat >times.py <<'PY'
import re, sys
print(sum(int(m) * 60 + float(x) for m, x in re.findall(r"(\d+)m([\d.]+)s", open(sys.argv[1]).read())))
PY

test_expect_success 'setup: a repository and a CPU-busy workload' '
	expect_success resque init p &&
	cat >p/spin.sh <<-\SH
	i=0; while [ $i -lt ${1:-200000} ]; do i=$((i+1)); done
	SH
'

test_expect_success 'run meters a busy command with the estimate and records an actual' '
	cd p && expect_success resque run --meter estimate --cpu-watts 64 --interval 0.05 --region FR --json \
		-- sh -c "sh spin.sh & sh spin.sh; wait; times >times.txt; printf \"%s-%s\\n\" child stdout" &&
	grep -q child-stdout "$ERR" && ! grep -q child-stdout "$OUT" &&
	cp "$OUT" run1.json &&
	"$PY" - run1.json <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	b = d["body"]
	assert d["type"] == "actual" and d["method"] == "estimated" and d["meter"] == "estimate", d
	assert d["exit_status"] == 0 and d["status"] == "succeeded" and d["plan"] is None, d
	assert d["inside_p80"] is None and d["epochs"] is None, d
	assert d["energy_kwh"] > 0 and d["duration_s"] > 0
	est = b["estimate"]
	# the CPU domain is CPU seconds x watts per CPU (--cpu-watts: 64 W per logical CPU)
	cpu_j = b["domains_kwh"]["cpu (estimate)"] * 3.6e6
	assert abs(cpu_j - est["cpu_seconds"] * est["watts_per_cpu"]) <= 1e-6 * cpu_j, (cpu_j, est)
	assert abs(sum(b["domains_kwh"].values()) - d["energy_kwh"]) <= 1e-12
	assert est["tdp_source"] == "--cpu-watts"
	# carbon = energy x PUE x intensity / 1000
	assert abs(d["carbon_kg"] - d["energy_kwh"] * b["pue"] * b["intensity_g_per_kwh"] / 1000) <= 1e-15
	assert b["region"] == "FR" and b["command"][0] == "sh"
	PY
'

test_expect_success 'the estimate follows the whole process tree (kernel accounting as reference)' '
	# the reference: what `times` in the command says (the shell and its reaped children)
	cd p && cpu=$(json_get run1.json "d[\"body\"][\"estimate\"][\"cpu_seconds\"]") &&
	ref=$("$PY" "$SCRATCH/times.py" times.txt) &&
	near "$cpu" "$ref" 0.1 &&
	per=$(json_get run1.json "d[\"body\"][\"estimate\"][\"watts_per_cpu\"]") &&
	near "$per" 64 1e-12
'

test_expect_success 'resque show ACTUAL --json has the contract fields of run --json' '
	cd p && id=$(json_get run1.json "d[\"id\"]") &&
	expect_success resque show "$id" --json &&
	"$PY" - "$OUT" run1.json <<-\PY
	import json, sys
	s, r = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
	for k in ["energy_kwh", "carbon_kg", "duration_s", "method", "meter", "exit_status", "epochs", "plan", "inside_p80"]:
	    assert k in s and s[k] == r[k], (k, s.get(k), r[k])
	assert s["body"] == r["body"]
	PY
'

test_expect_success 'exit statuses are kept: 0, 3, a failed command is recorded as failed' '
	cd p && before=$(git --git-dir=.resque rev-list --count ledger) &&
	expect_failure 3 resque run --meter estimate --json -- sh -c "exit 3" &&
	test "$(json_get "$OUT" "d[\"exit_status\"]")" = 3 &&
	test "$(json_get "$OUT" "d[\"status\"]")" = failed &&
	grep -F "sh exited with status 3; recorded as failed" "$ERR" &&
	test "$(git --git-dir=.resque rev-list --count ledger)" = $((before + 1)) &&
	expect_success resque run --meter estimate -- true &&
	grep -F "recorded actual" "$ERR"
'

test_expect_success 'a command that cannot be started: 127, nothing recorded' '
	cd p && repo_state >before &&
	expect_failure 127 resque run --meter estimate -- ./no-such-command &&
	grep -F "resque: ./no-such-command: No such file or directory (nothing was run, nothing recorded)" "$ERR" &&
	repo_state >after && compare before after
'

test_expect_success 'a command killed by a signal: 128+N, recorded as failed' '
	cd p && resque run --meter estimate --json -- sh -c "kill -KILL \$\$" >out.json 2>err.txt; rc=$? &&
	test "$rc" = 137 &&
	test "$(json_get out.json "d[\"exit_status\"]")" = 137 &&
	test "$(json_get out.json "d[\"body\"][\"signal\"]")" = 9 &&
	grep -F "was killed by signal 9" err.txt
'

test_expect_success 'SIGTERM sent to resque is forwarded to the command' '
	cd p && rm -f started trapped &&
	cat >trap.sh <<-\SH &&
	trap "echo TERM >trapped; kill \$p 2>/dev/null; exit 7" TERM
	sleep 30 & p=$!
	echo started >started
	wait $p
	SH
	{ resque run --meter estimate --interval 0.05 --json -- sh trap.sh >out.json 2>err.txt & } &&
	rpid=$! &&
	n=0 && while [ ! -f started ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done &&
	test -f started && kill -TERM $rpid;
	wait $rpid; rc=$? &&
	test "$rc" = 7 && test "$(cat trapped)" = TERM &&
	test "$(json_get out.json "d[\"exit_status\"]")" = 7 &&
	test "$(json_get out.json "d[\"status\"]")" = failed
'

test_expect_success 'epochs and metrics through resque mark; energy split per epoch' '
	cd p && cat >train.sh <<-\SH &&
	for e in 1 2 3; do
		sh spin.sh 150000
		resque mark metric grad_norm $e.5
		resque mark epoch
	done
	resque mark metric accuracy 0.91
	resque mark metric accuracy not-a-number || echo "rejected" >&2
	sh spin.sh 50000
	SH
	expect_success resque run --meter estimate --interval 0.02 --json -- sh train.sh &&
	grep -F "resque: mark metric: '\''not-a-number'\'' is not a finite number" "$ERR" &&
	"$PY" - "$OUT" <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1])); b = d["body"]
	assert d["epochs"] == 3, d["epochs"]
	e = b["epoch_energy_kwh"]
	assert len(e) == 3 and all(x > 0 for x in e), e
	assert len(b["epoch_duration_s"]) == 3
	assert abs(sum(e) + b["tail_energy_kwh"] - d["energy_kwh"]) <= 1e-9 * d["energy_kwh"]
	assert abs(b["stable_epoch_energy_kwh"] - (e[1] + e[2]) / 2) <= 1e-15
	assert b["metrics"]["grad_norm"] == [1.5, 2.5, 3.5], b["metrics"]
	assert b["metrics"]["accuracy"] == [0.91]
	assert b["grad_norm"] == 7.5
	PY
'

test_expect_success 'RESQUE_EVENTS: a fresh file replaces an inherited one' '
	cd p && : >outer-events &&
	RESQUE_EVENTS=$PWD/outer-events expect_success resque run --meter estimate -- \
		sh -c "echo \$RESQUE_EVENTS >seen; resque mark epoch" &&
	test "$(cat seen)" != "$PWD/outer-events" && test ! -s outer-events &&
	test ! -e "$(cat seen)"
'

test_expect_success '--plan links the actual; inside_p80 against the plan interval' '
	cd p &&
	echo "{\"from\": \"0000\", \"kind\": \"dist\", \"index\": 0.2, \"forecast\": {\"energy_kwh\": {\"mean\": 0.5, \"p10\": 0, \"p90\": 1, \"p2_5\": 0, \"p97_5\": 2}}}" >wide.json &&
	echo "{\"from\": \"0000\", \"kind\": \"dist\", \"index\": 0.2, \"forecast\": {\"energy_kwh\": {\"mean\": 2, \"p10\": 1, \"p90\": 3, \"p2_5\": 0.5, \"p97_5\": 4}}}" >high.json &&
	wide=$(rq-append .resque plan <wide.json) && high=$(rq-append .resque plan <high.json) &&
	expect_success resque run --meter estimate --plan "$(echo $wide | cut -c1-10)" --json -- sh spin.sh &&
	"$PY" - "$OUT" wide.json "$wide" <<-\PY &&
	import json, sys
	d, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
	f = p["forecast"]["energy_kwh"]
	assert d["plan"] == sys.argv[3] and d["body"]["plan"] == sys.argv[3]
	assert d["inside_p80"] == (f["p10"] <= d["energy_kwh"] <= f["p90"]) == True
	assert d["forecast_energy_kwh"] == f
	PY
	grep -F "the actual is inside the 80 % interval" "$ERR" &&
	expect_success resque run --meter estimate --plan "$high" --json -- true &&
	test "$(json_get "$OUT" "d[\"inside_p80\"]")" = False &&
	grep -F "the actual is outside the 80 % interval" "$ERR" &&
	expect_success resque verify
'

test_expect_success 'bad input is refused before the command runs; the repository is unchanged' '
	cd p && repo_state >before && rm -f ran &&
	expect_error 1 "--plan deadbeef" resque run --plan deadbeef -- touch ran &&
	test ! -e ran &&
	expect_error 1 "unknown grid region" resque run --region XX-NOWHERE -- touch ran &&
	test ! -e ran &&
	expect_error 2 "missing -- COMMAND" resque run &&
	expect_error 2 "missing -- COMMAND" resque run --meter estimate -- &&
	expect_error 2 "--interval must be between" resque run --interval 0 -- touch ran &&
	expect_error 2 "--pue: pue 0.5 is outside the plausible range [1, 3]" resque run --pue 0.5 -- touch ran &&
	expect_error 2 "--pue: pue 40 is outside the plausible range [1, 3]" resque run --pue 40 -- touch ran &&
	expect_error 1 "unknown meter '\''joulemeter'\''" resque run --meter joulemeter -- touch ran &&
	RESQUE_SYSFS_ROOT=$PWD/nowhere expect_error 1 "rapl: $PWD/nowhere/sys/class/powercap" \
		resque run --meter rapl -- touch ran &&
	test ! -e ran &&
	repo_state >after && compare before after
'

test_expect_success 'run outside a repository fails before running anything' '
	mkdir -p empty && cd empty && rm -f ran &&
	expect_error 1 "resque" resque run -- touch ran && test ! -e ran
'

test_expect_success 'resque mark: RESQUE_EVENTS unset, bad values, appended lines' '
	expect_error 1 "RESQUE_EVENTS is not set" resque mark epoch &&
	: >ev && RESQUE_EVENTS=$PWD/ev expect_success resque mark epoch &&
	RESQUE_EVENTS=$PWD/ev expect_success resque mark epoch 4 &&
	RESQUE_EVENTS=$PWD/ev expect_success resque mark metric loss 0.25 &&
	printf "epoch\nepoch 4\nmetric loss 0.25\n" >want && compare want ev &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "'\''x'\'' is not an epoch number" resque mark epoch x &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "'\''inf'\'' is not a finite number" resque mark metric loss inf &&
	RESQUE_EVENTS=$PWD/ev expect_error 1 "'\''bad name'\'' is not a metric name" resque mark metric "bad name" 1 &&
	RESQUE_EVENTS=$PWD/ev expect_error 2 "missing VALUE" resque mark metric loss &&
	RESQUE_EVENTS=$PWD/missing expect_error 1 "RESQUE_EVENTS: $PWD/missing: No such file or directory" resque mark epoch &&
	compare want ev
'

test_expect_success 'concurrent resque mark lines never interleave' '
	: >ev2 &&
	for w in 1 2 3 4; do
		(for i in 1 2 3 4 5 6 7 8 9 10; do RESQUE_EVENTS=$PWD/ev2 resque mark metric worker_$w $i.$i; done) &
	done; wait &&
	test "$(wc -l <ev2)" = 40 &&
	test "$(grep -c -E "^metric worker_[1-4] ([0-9]+)\.\1$" ev2)" = 40
'

test_done
