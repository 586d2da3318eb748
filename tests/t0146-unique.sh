#!/bin/sh
# Uniqueness under the writer's lock (issue 11 item 5): version names,
# dataset names and imported run ids are checked again while the writer
# holds the ledger's lock, so that of N concurrent writers taking the same
# name exactly one succeeds and the others fail with the message a
# sequential duplicate gets (exit 1), leaving a ledger that verifies.
. "$(dirname "$0")/lib.sh"
test_requires TIMEOUT

N=6

# parallel DIR CMD...: run CMD N times at once in DIR (each one's stdout,
# stderr and exit status in DIR/par.I.{out,err,rc}); at most 60 s in all.
parallel() {
	_dir=$1
	shift
	rm -f "$_dir"/par.*
	_i=1
	while [ "$_i" -le "$N" ]; do
		(timeout 60 "$@" >"$_dir/par.$_i.out" 2>"$_dir/par.$_i.err"; echo $? >"$_dir/par.$_i.rc") &
		_i=$((_i + 1))
	done
	wait
}

# outcome DIR MESSAGE: exactly one run exited 0, every other exited 1 and
# said MESSAGE (no crash, no timeout, no other failure).
outcome() {
	_ok=0
	_i=1
	while [ "$_i" -le "$N" ]; do
		_rc=$(cat "$1/par.$_i.rc")
		if [ "$_rc" -eq 0 ]; then
			_ok=$((_ok + 1))
		elif [ "$_rc" -ne 1 ] || ! grep -q -F -e "$2" "$1/par.$_i.err"; then
			say "run $_i: exit $_rc, stderr:"
			sed 's/^/  /' "$1/par.$_i.err" >&2
			return 1
		fi
		_i=$((_i + 1))
	done
	[ "$_ok" -eq 1 ] || { say "$_ok of $N runs succeeded, not 1"; return 1; }
}

# count TYPE NAME: entries of TYPE named NAME in the ledger.
count() {
	resque log --type "$1" --json >"$SCRATCH/log.json" &&
	"$PY" -c 'import json,sys; print(sum(1 for e in json.load(open(sys.argv[1])) if e.get("name") == sys.argv[2]))' \
		"$SCRATCH/log.json" "$2"
}

# run_ids: the source run id of every actual in the ledger, one a line
# (read from the entries in git, not through resque).
run_ids() {
	for c in $(git --git-dir=.resque log --format=%H ledger); do
		git --git-dir=.resque show "$c:entry"
	done | "$PY" -c '
import json, sys
for line in sys.stdin.read().replace("}{", "}\n{").splitlines():
    e = json.loads(line)
    if e["type"] == "actual":
        print(e["body"]["source"]["run_id"])'
}

# multi_runs <CSV: the CSV's header, then its first row as 30 runs.
multi_runs() {
	"$PY" -c '
import sys
head, row = sys.stdin.read().splitlines()[:2]
print(head)
for i in range(30):
    print(row.replace("44444444-", "5555%04d-" % i))'
}

test_expect_success 'setup: a repository, a large weights file, a dataset, a CodeCarbon file' '
	expect_success resque init p && cd p &&
	# large enough that fingerprinting it outlasts the other writers start
	head -c 48000000 /dev/urandom >w.bin &&
	mkdir -p data/a data/b &&
	i=0 && while [ $i -lt 200 ]; do echo "sample $i" >data/a/f$i.txt; echo "other $i" >data/b/f$i.txt; i=$((i + 1)); done &&
	head -c 8000000 /dev/urandom >data/a/big.bin &&
	cat >cc.csv <<-CSV
	timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud
	2022-06-01T10:00:00,codecarbon,44444444-3dd7-45bb-9766-cc326314d9f1,120.5,0.0123,0.0001,42.5,250.0,11.8,0.0014,0.0083,0.0004,0.0101,France,FRA,idf,,,Linux-5.15,3.9.7,8,cpu,1,gpu,2.35,48.85,31.4,machine,N
	CSV
'

test_expect_success "$N parallel commits of one version name: one version, the others refused" '
	cd p && before=$(resque log --json | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)))") &&
	parallel "$SCRATCH" resque commit --weights w.bin --name dup &&
	outcome "$SCRATCH" "a version named '\''dup'\'' exists already" &&
	test "$(count version dup)" = 1 &&
	after=$(resque log --json | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)))") &&
	test "$after" = $((before + 1)) &&
	expect_success resque verify
'

test_expect_success 'a later commit of the name gets the same message, and changes nothing' '
	cd p && repo_state >"$SCRATCH/before" &&
	expect_error 1 "a version named '\''dup'\'' exists already" resque commit --weights w.bin --name dup &&
	repo_state >"$SCRATCH/after" && compare "$SCRATCH/before" "$SCRATCH/after"
'

test_expect_success "$N parallel dataset adds with one --name: one dataset, the others refused" '
	cd p && parallel "$SCRATCH" resque dataset add --name same data/a &&
	outcome "$SCRATCH" "dataset name '\''same'\'' is already in use" &&
	test "$(count dataset same)" = 1 &&
	expect_success resque verify
'

test_expect_success 'a later dataset add of the name (another directory) is refused the same way' '
	cd p && repo_state >"$SCRATCH/before" &&
	expect_error 1 "dataset name '\''same'\'' is already in use" resque dataset add --name same data/b &&
	repo_state >"$SCRATCH/after" && compare "$SCRATCH/before" "$SCRATCH/after"
'

test_expect_success "$N parallel imports of one CodeCarbon run: one actual, the others say it was imported already" '
	cd p && parallel "$SCRATCH" resque import codecarbon cc.csv &&
	# every import exits 0 (a re-run CI step succeeds); all but one name
	# the run and the actual that holds it
	for i in $(seq 1 $N); do
		test "$(cat "$SCRATCH/par.$i.rc")" = 0 || { cat "$SCRATCH/par.$i.err"; return 1; }
	done &&
	test "$(cat "$SCRATCH"/par.*.out | grep -c "cc.csv: run '\''44444444-3dd7-45bb-9766-cc326314d9f1'\'' already imported as [0-9a-f]\{12\}")" = $((N - 1)) &&
	resque log --type actual --json >"$SCRATCH/a.json" &&
	test "$(json_get "$SCRATCH/a.json" "len(d)")" = 1 &&
	expect_success resque verify
'

test_expect_success "$N parallel imports of one file of 30 runs: each run recorded once" '
	cd p && multi_runs <cc.csv >multi.csv &&
	parallel "$SCRATCH" resque import codecarbon multi.csv &&
	for i in $(seq 1 $N); do
		rc=$(cat "$SCRATCH/par.$i.rc") &&
		[ "$rc" = 0 ] ||
			{ echo "run $i: exit $rc"; cat "$SCRATCH/par.$i.err"; return 1; }
	done &&
	run_ids >"$SCRATCH/ids" &&
	test "$(wc -l <"$SCRATCH/ids")" = 31 &&
	test "$(sort -u "$SCRATCH/ids" | wc -l)" = 31 &&
	expect_success resque verify
'

test_expect_success 'a later import of the run gets the same messages, and changes nothing' '
	cd p && repo_state >"$SCRATCH/before" &&
	expect_success resque import codecarbon cc.csv &&
	grep -q "cc.csv: run .44444444-3dd7-45bb-9766-cc326314d9f1. already imported as [0-9a-f]\{12\}" "$OUT" &&
	repo_state >"$SCRATCH/after" && compare "$SCRATCH/before" "$SCRATCH/after"
'

test_expect_success 'distinct names in parallel all succeed' '
	cd p && for i in 1 2 3 4; do
		(resque commit --weights w.bin --name "v$i" >/dev/null 2>"$SCRATCH/d.$i.err"; echo $? >"$SCRATCH/d.$i.rc") &
	done && wait &&
	for i in 1 2 3 4; do test "$(cat "$SCRATCH/d.$i.rc")" = 0 || { cat "$SCRATCH/d.$i.err"; return 1; }; done &&
	expect_success resque verify
'

test_done
