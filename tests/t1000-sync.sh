#!/bin/sh
# Sharing a ledger (issue 13): remote add/remove/-v, clone, push, pull and
# pull --rebase between two people (separate key stores and memories) over
# a bare repository on disk, by path and by file://; what each refuses,
# and that a refusal changes nothing.
. "$(dirname "$0")/lib.sh"
. "$RQ_ROOT/tests/lib-remote.sh"

A_HOME=$SCRATCH/alice-home
B_HOME=$SCRATCH/bob-home
SQ="'"
SRV=$SCRATCH/srv.git
# is ACTUAL EXPECTED: equal, or say both
is() { [ "$1" = "$2" ] || { say "expected '$2', got '$1'"; return 1; }; }
as_alice() { RESQUE_HOME=$A_HOME; export RESQUE_HOME; cd "$SCRATCH/alice"; }
as_bob() { RESQUE_HOME=$B_HOME; export RESQUE_HOME; cd "$SCRATCH/bob"; }
test_expect_success 'setup: two people with a key each, an empty shared remote' '
	git init -q --bare "$SRV" &&
	mkdir alice bob &&
	as_alice && expect_success resque key gen && expect_success resque init &&
	expect_success resque note -m "first" &&
	as_bob && expect_success resque key gen &&
	cp "$B_HOME"/keys/*.pub "$SCRATCH/bob.pub"
'

test_expect_success 'remote add, -v, --json and remove; bad names and duplicates refused' '
	as_alice &&
	expect_success resque remote add origin "$SRV" &&
	expect_success resque remote add spare "file://$SRV" &&
	expect_success resque remote -v &&
	grep -q "^origin	$SRV\$" "$OUT" && grep -q "^spare	file://$SRV\$" "$OUT" &&
	expect_success resque remote && test "$(cat "$OUT")" = "$(printf "origin\nspare")" &&
	expect_success resque remote --json &&
	test "$(json_get "$OUT" "[r[\"name\"] for r in d]")" = "[${SQ}origin${SQ}, ${SQ}spare${SQ}]" &&
	git --git-dir=.resque config remote.origin.url >url && test "$(cat url)" = "$SRV" &&
	unchanged_after 1 "remote ${SQ}origin${SQ} exists already" resque remote add origin /elsewhere &&
	expect_failure 2 resque remote add "bad/name" /x && grep_err "not a valid remote name" &&
	unchanged_after 1 "no remote named ${SQ}nosuch${SQ}" resque remote remove nosuch &&
	expect_success resque remote remove spare &&
	expect_success resque remote -v && ! grep -q spare "$OUT"
'

test_expect_success 'push to an empty remote creates its ledger branch; plain git reads it' '
	as_alice &&
	expect_success resque push --json &&
	test "$(json_get "$OUT" "sorted(d.keys())")" = "[${SQ}after${SQ}, ${SQ}before${SQ}, ${SQ}rebased${SQ}, ${SQ}received${SQ}, ${SQ}remote${SQ}, ${SQ}sent${SQ}, ${SQ}url${SQ}]" &&
	test "$(json_get "$OUT" "d[\"sent\"], d[\"received\"], d[\"rebased\"], d[\"remote\"]")" = "(2, 0, 0, ${SQ}origin${SQ})" &&
	test "$(json_get "$OUT" "d[\"after\"][\"size\"]")" = 2 &&
	test "$(entries "$SRV")" = 2 &&
	git clone -q --branch ledger "$SRV" plain &&
	grep -q "\"message\":\"first\"" plain/entry && test -f plain/sig &&
	expect_success resque push && grep_out "up to date"
'

test_expect_success 'the key of a colleague is added (the line of key export) and pushed' '
	as_alice &&
	expect_success resque key add --name bob "$(RESQUE_HOME=$B_HOME resque key export)" &&
	expect_success resque push && grep_out "pushed 1 entry" &&
	test "$(entries "$SRV")" = 3
'

test_expect_success 'clone by path verifies and builds the index; remote origin is set' '
	cd "$SCRATCH" && RESQUE_HOME=$B_HOME && export RESQUE_HOME &&
	rmdir bob && expect_success resque clone --json "$SRV" bob &&
	test "$(json_get "$OUT" "d[\"received\"], d[\"after\"][\"size\"], d[\"before\"][\"size\"], d[\"before\"][\"tip\"]")" = "(3, 3, 0, None)" &&
	as_bob && expect_success resque verify && grep_out "3 entries verified" &&
	expect_success resque remote -v && grep -q "^origin	$SRV\$" "$OUT" &&
	expect_success resque log && test "$(wc -l <"$OUT")" = 3 &&
	test -f .resque/index.db
'

test_expect_success 'clone by file:// URL, into an existing project directory, and by project path' '
	cd "$SCRATCH" && mkdir -p proj && echo code >proj/train.py &&
	expect_success resque clone "file://$SRV" proj && grep_out "cloned 3 entries" &&
	test -f proj/train.py && (cd proj && resque verify >/dev/null) &&
	expect_success resque clone "$SCRATCH/alice" c3 && (cd c3 && resque log >../log3) &&
	test "$(wc -l <log3)" = 3
'

test_expect_success 'clone refuses an existing repository, a remote without a ledger, a bad URL: nothing made' '
	cd "$SCRATCH" &&
	expect_failure 1 resque clone "$SRV" proj && grep_err "proj/.resque: a repository exists already" &&
	git init -q --bare empty.git &&
	expect_failure 1 resque clone empty.git e1 && grep_err "has no ledger" && test ! -e e1 &&
	expect_failure 1 resque clone "$SCRATCH/nowhere.git" e2 && grep_err "remote ${SQ}origin${SQ} \($SCRATCH/nowhere.git\): no such directory" && test ! -e e2 &&
	expect_failure 2 resque clone && grep_err "URL" &&
	echo x >afile && expect_failure 1 resque clone "$SRV" afile && grep_err "afile: not a directory" &&
	expect_failure 1 resque clone afile e3 && grep_err "not a directory, so not a git repository" && test ! -e e3 &&
	(cd alice && RESQUE_HOME=$A_HOME resque remote add empty "" 2>../err.out; test $? = 1) &&
	grep -q "the URL is empty" err.out
'

test_expect_success 'pull takes what a colleague pushed, verified (fast-forward)' '
	as_bob && expect_success resque note -m "bob one" && expect_success resque push &&
	as_alice && expect_success resque pull --json &&
	test "$(json_get "$OUT" "d[\"received\"], d[\"before\"][\"size\"], d[\"after\"][\"size\"]")" = "(1, 3, 4)" &&
	expect_success resque log -n 1 && grep_out "bob one" &&
	expect_success resque verify &&
	expect_success resque pull && grep_out "up to date"
'

test_expect_success 'pull with the remote behind says so; push then sends' '
	as_alice && expect_success resque note -m "alice two" &&
	expect_success resque pull && grep_out "1 entry behind" &&
	expect_success resque push && test "$(entries "$SRV")" = 5
'

test_expect_success 'push refuses when the remote has entries we lack (non-fast-forward); nothing moves' '
	as_bob && expect_success resque note -m "bob offline" &&
	t=$(tip_of "$SRV") &&
	unchanged_after 1 "has entries this ledger does not: pull first" resque push &&
	test "$(tip_of "$SRV")" = "$t"
'

test_expect_success 'pull refuses diverged ledgers and explains; nothing changes here' '
	as_bob &&
	unchanged_after 1 "the ledgers diverged: both have entries since entry 3" resque pull &&
	grep_err "1 here, 1 on remote ${SQ}origin${SQ}" && grep_err "pull --rebase origin"
'

test_expect_success 'pull --rebase replays our entries on the remote tip, re-signed' '
	as_bob && expect_success resque pull --rebase --json &&
	test "$(json_get "$OUT" "d[\"received\"], d[\"rebased\"], d[\"after\"][\"size\"]")" = "(1, 1, 6)" &&
	expect_success resque log -n 1 && grep_out "bob offline" &&
	expect_success resque verify && grep_out "6 entries verified" &&
	expect_success resque push && test "$(entries "$SRV")" = 6 &&
	as_alice && expect_success resque pull && expect_success resque verify
'

test_expect_success 'pull --rebase rewrites references between replayed entries (parent, actual:ID)' '
	as_alice && head -c 512 /dev/urandom >w1.bin && echo "{\"epochs\": 3, \"energy_kwh\": 1.5, \"duration_s\": 100}" >cost.json &&
	expect_success resque commit -w w1.bin --name v1 --cost cost.json && expect_success resque push &&
	as_bob && expect_success resque pull && head -c 512 /dev/urandom >w2.bin && head -c 512 /dev/urandom >w3.bin &&
	expect_success resque run --name r1 -- true &&
	expect_success resque commit -w w2.bin --name v2 -p v1 --actual r1 &&
	echo "{\"epochs\": 2, \"energy_kwh\": 1, \"duration_s\": 50}" >cost.json &&
	expect_success resque commit -w w3.bin --name v3 -p v2 --cost cost.json &&
	old_v2=$(resque show v2 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[\"id\"])") &&
	as_alice && expect_success resque note -m "meanwhile" && expect_success resque push &&
	as_bob && expect_success resque pull --rebase --json &&
	test "$(json_get "$OUT" "d[\"rebased\"], d[\"received\"]")" = "(3, 1)" &&
	expect_success resque show v2 --json && v2=$(json_get "$OUT" "d[\"id\"]") &&
	test "$v2" != "$old_v2" &&
	r1=$(resque show r1 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[\"id\"])") &&
	test "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"source\"]")" = "actual:$r1" &&
	expect_success resque show v3 --json && test "$(json_get "$OUT" "d[\"body\"][\"parent\"]")" = "$v2" &&
	expect_success resque verify && expect_success resque reindex && expect_success resque verify &&
	expect_success resque push && as_alice && expect_success resque pull &&
	expect_success resque show v3 --json && test "$(json_get "$OUT" "d[\"body\"][\"parent\"]")" = "$v2"
'

test_expect_success 'pull --rebase stops before replaying an entry signed by another key' '
	as_alice && expect_success resque note -m "alice unpushed" &&
	cd "$SCRATCH" && RESQUE_HOME=$SCRATCH/carol-home && export RESQUE_HOME &&
	expect_success resque key gen && expect_success resque clone "$SRV" carol && cd carol &&
	expect_success resque remote add alice "$SCRATCH/alice" &&
	expect_success resque pull alice && expect_success resque log -n 1 && grep_out "alice unpushed" &&
	as_bob && expect_success resque note -m "bob pushes" && expect_success resque push &&
	cd "$SCRATCH/carol" && RESQUE_HOME=$SCRATCH/carol-home && export RESQUE_HOME &&
	unchanged_after 1 "is signed by key" resque pull --rebase origin && grep_err "only your own entries can be replayed" &&
	as_alice && expect_success resque pull --rebase && expect_success resque push
'

test_expect_success 'pull --rebase stops on a name the remote took meanwhile; nothing changes' '
	as_alice && head -c 512 /dev/urandom >w4.bin && echo "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1}" >c.json &&
	expect_success resque commit -w w4.bin --name v9 --cost c.json && expect_success resque push &&
	as_bob && head -c 512 /dev/urandom >w5.bin && echo "{\"epochs\": 1, \"energy_kwh\": 1, \"duration_s\": 1}" >c.json &&
	expect_success resque commit -w w5.bin --name v9 --cost c.json &&
	head -c 512 /dev/urandom >w6.bin && expect_success resque commit -w w6.bin --name v10 -p v9 --cost c.json &&
	unchanged_after 1 "the remote has a version named ${SQ}v9${SQ}" resque pull --rebase && grep_err "nothing was changed" &&
	grep_err "with --rename v9=NEW"
'

test_expect_success 'pull --rebase --rename OLD=NEW replays it under the new name; references by name follow' '
	as_bob &&
	expect_failure 2 resque pull --rebase --rename v9 && grep_err "give OLD=NEW" &&
	expect_failure 2 resque pull --rename v9=v9b && grep_err "only applies with --rebase" &&
	unchanged_after 1 "--rename nosuch=x: none of the entries to replay" resque pull --rebase --rename v9=v9b --rename nosuch=x &&
	unchanged_after 1 "--rename v9=v1: a version named ${SQ}v1${SQ} exists already" resque pull --rebase --rename v9=v1 &&
	unchanged_after 1 "not a valid version name" resque pull --rebase --rename "v9=bad name" &&
	expect_success resque pull --rebase --rename v9=v9b --json &&
	is "$(json_get "$OUT" "d[\"rebased\"]")" 2 &&
	expect_success resque show v9b --json && v9b=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque show v10 --json &&
	is "$(json_get "$OUT" "d[\"body\"][\"parent\"], d[\"body\"][\"parent_name\"]")" "(${SQ}$v9b${SQ}, ${SQ}v9b${SQ})" &&
	expect_success resque show v9 --json && test "$(json_get "$OUT" "d[\"id\"]")" != "$v9b" &&
	expect_success resque verify && expect_success resque push
'

test_expect_success 'a tampered remote is refused on pull and clone with exit 3; nothing changes' '
	as_alice && expect_success resque pull && git clone -q --bare "$SRV" "$SCRATCH/t.git" &&
	expect_success resque note -m "to be tampered" &&
	expect_success resque remote add t "$SCRATCH/t.git" && expect_success resque push t &&
	tamper_tip "$SCRATCH/t.git" &&
	as_bob && expect_success resque remote add t "$SCRATCH/t.git" &&
	unchanged_after 3 "remote ${SQ}t${SQ}" resque pull t && grep_err "entry" &&
	cd "$SCRATCH" && expect_failure 3 resque clone "$SCRATCH/t.git" tclone && test ! -e tclone/.resque
'

test_expect_success 'a remote rolled back, or rewritten, since it was last seen is refused with exit 3' '
	git clone -q --bare "$SRV" "$SCRATCH/r.git" &&
	as_alice && expect_success resque remote add r "$SCRATCH/r.git" &&
	expect_success resque pull r && expect_success resque push r &&
	n=$(entries "$SCRATCH/r.git") &&
	git --git-dir="$SCRATCH/r.git" update-ref refs/heads/ledger "$(git --git-dir="$SCRATCH/r.git" rev-parse ledger~2)" &&
	unchanged_after 3 "rolled back: it served $n entries before, now $((n - 2))" resque pull r &&
	unchanged_after 3 "rolled back" resque push r &&
	git --git-dir="$SCRATCH/r.git" update-ref refs/heads/ledger "$(git --git-dir=.resque rev-parse ledger)" &&
	cd "$SCRATCH" && mkdir -p fk-home fk2-home && cp -r "$A_HOME/keys" fk-home/ && cp -r "$A_HOME/keys" fk2-home/ &&
	RESQUE_HOME=$SCRATCH/fk-home resque clone r.git fk >/dev/null &&
	git --git-dir=fk/.resque update-ref refs/heads/ledger "$(git --git-dir=fk/.resque rev-parse ledger~1)" &&
	(cd fk && RESQUE_HOME=$SCRATCH/fk2-home resque note -m "another history" >/dev/null) &&
	git --git-dir=fk/.resque push -q -f "$SCRATCH/r.git" ledger:ledger &&
	test "$(entries "$SCRATCH/r.git")" = "$n" &&
	as_alice && unchanged_after 3 "remote ${SQ}r${SQ} ($SCRATCH/r.git) rewrote its history: entry $((n - 1))" resque pull r
'

test_expect_success 'racing pushes: one lands, the other is refused; the remote stays a verified ledger' '
	as_alice && expect_success resque pull && expect_success resque push &&
	cd "$SCRATCH" && RESQUE_HOME=$SCRATCH/alice2-home && export RESQUE_HOME &&
	cp -r "$A_HOME/keys" "$SCRATCH/alice2-keys" && mkdir -p "$SCRATCH/alice2-home" &&
	mv "$SCRATCH/alice2-keys" "$SCRATCH/alice2-home/keys" &&
	expect_success resque clone "$SRV" alice2 &&
	(cd alice2 && resque note -m "race two" >/dev/null) &&
	as_alice && expect_success resque note -m "race one" && cd "$SCRATCH" || return 1
	(cd alice && RESQUE_HOME=$A_HOME resque push >../p1.out 2>&1; echo $? >../p1.rc) &
	(cd alice2 && RESQUE_HOME=$SCRATCH/alice2-home resque push >../p2.out 2>&1; echo $? >../p2.rc) &
	wait
	cat p1.out p2.out &&
	test "$(cat p1.rc)$(cat p2.rc)" = 01 -o "$(cat p1.rc)$(cat p2.rc)" = 10 &&
	grep -E -q "moved while pushing \(another push\?\)|has entries this ledger does not: pull first" p1.out p2.out &&
	rm -rf check && RESQUE_HOME=$SCRATCH/check-home resque clone "$SRV" check >/dev/null &&
	(cd check && RESQUE_HOME=$SCRATCH/check-home resque verify >/dev/null) &&
	for c in alice:$A_HOME alice2:$SCRATCH/alice2-home; do
		(cd "${c%%:*}" && RESQUE_HOME=${c#*:} resque pull --rebase >/dev/null &&
			RESQUE_HOME=${c#*:} resque push >/dev/null) || return 1
	done
'

test_expect_success 'an unreachable remote fails clearly, naming it, without a prompt' '
	as_alice && expect_success resque remote add dead "git://127.0.0.1:1/nothing.git" &&
	unchanged_after 1 "remote ${SQ}dead${SQ} (git://127.0.0.1:1/nothing.git)" resque pull dead </dev/null &&
	unchanged_after 1 "remote ${SQ}dead${SQ}" resque push dead </dev/null &&
	unchanged_after 1 "no remote named ${SQ}nosuch${SQ}" resque pull nosuch
'

test_expect_success 'a URL with control characters is refused (credential helpers never see one); passwords are not shown' '
	as_alice && bad="http://x%0aprotocol=https%0ahost=github.com%0apath=@127.0.0.1:1/a.git" &&
	unchanged_after 1 "holds a control character" resque remote add evil "$bad" &&
	cd "$SCRATCH" && expect_failure 1 resque clone "$bad" evil && grep_err "holds a control character" &&
	test ! -e evil && expect_failure 1 resque clone "http://x%00y@127.0.0.1:1/a.git" evil2 &&
	expect_failure 1 resque clone "http://bob:s3cret@127.0.0.1:1/x.git" pw </dev/null &&
	grep_err "bob:\*\*\*@127.0.0.1:1" && ! grep -q s3cret "$ERR" && test ! -e pw
'

test_expect_success 'a remote ledger branch that is not a commit is refused with exit 3' '
	git clone -q --bare "$SRV" "$SCRATCH/nc.git" &&
	tree=$(git --git-dir="$SCRATCH/nc.git" rev-parse "ledger^{tree}") && echo "$tree" >"$SCRATCH/nc.git/refs/heads/ledger" &&
	as_alice && expect_success resque remote add nc "file://localhost$SCRATCH/nc.git" &&
	unchanged_after 3 "its ledger branch does not point at a commit" resque pull nc
'

test_expect_success 'after our own rebase, a remote that kept the old entries is diverged, not accused of a rewrite' '
	as_alice && expect_success resque pull && git init -q --bare "$SCRATCH/backup.git" &&
	expect_success resque remote add backup "$SCRATCH/backup.git" &&
	expect_success resque note -m "private" && expect_success resque push backup &&
	as_bob && expect_success resque pull --rebase --rename v9=v9c 2>/dev/null; as_bob &&
	expect_success resque note -m "bob again" && expect_success resque push &&
	as_alice && expect_success resque pull --rebase origin &&
	unchanged_after 1 "the ledgers diverged" resque pull backup
'

test_expect_success 'pull --rebase records a run imported on both sides once; references follow the remote copy' '
	printf "run_id,duration,emissions,energy_consumed,country_iso_code\nrun-77,10,0.5,2.5,FRA\n" >"$SCRATCH/cc.csv" &&
	as_alice && expect_success resque pull && expect_success resque push &&
	as_bob && expect_success resque pull &&
	expect_success resque import codecarbon "$SCRATCH/cc.csv" &&
	head -c 300 /dev/urandom >w7.bin &&
	expect_success resque commit -w w7.bin --name v20 -p v1 --actual "$(resque log -n 1 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])")" &&
	as_alice && expect_success resque import codecarbon "$SCRATCH/cc.csv" && expect_success resque push &&
	theirs=$(resque log -n 1 --json | "$PY" -c "import json,sys; print(json.load(sys.stdin)[0][\"id\"])") &&
	as_bob && expect_success resque pull --rebase --json && is "$(json_get "$OUT" "d[\"rebased\"]")" 1 &&
	grep_err "imports the run the remote imported" &&
	expect_success resque show v20 --json && is "$(json_get "$OUT" "d[\"body\"][\"cost\"][\"source\"]")" "actual:$theirs" &&
	n=$(git --git-dir=.resque log --format=%H ledger | while read c; do git --git-dir=.resque cat-file blob "$c:entry"; echo; done | grep -c "run-77") &&
	is "$n" 1 && expect_success resque verify && expect_success resque push
'

test_expect_success 'pull --rebase refuses an nvidia-smi import sharing some logs with one of the remote'"'"'s; nothing changes' '
	printf "timestamp, index, power.draw [W]\n2023/03/08 13:00:00.000, 0, 100 W\n2023/03/08 13:00:02.000, 0, 100 W\n" >"$SCRATCH/nva.csv" &&
	printf "timestamp, index, power.draw [W]\n2023/03/08 13:00:00.000, 1, 200 W\n2023/03/08 13:00:02.000, 1, 200 W\n" >"$SCRATCH/nvb.csv" &&
	as_alice && expect_success resque pull && expect_success resque push &&
	cd "$SCRATCH" && RESQUE_HOME=$B_HOME expect_success resque clone "$SRV" bob-nv &&
	cd bob-nv && RESQUE_HOME=$B_HOME expect_success resque import nvidia-smi "$SCRATCH/nva.csv" "$SCRATCH/nvb.csv" &&
	as_alice && expect_success resque import nvidia-smi "$SCRATCH/nva.csv" && expect_success resque push &&
	cd "$SCRATCH/bob-nv" && RESQUE_HOME=$B_HOME && export RESQUE_HOME &&
	unchanged_after 1 "import some of the same nvidia-smi logs (not the same set): replaying it would count their energy twice; nothing was changed" \
		resque pull --rebase
'

test_expect_success 'pull from a remote holding another ledger is refused; nothing changes' '
	mkdir -p "$SCRATCH/other" && git init -q --bare "$SCRATCH/other.git" &&
	(cd "$SCRATCH/other" && RESQUE_HOME=$A_HOME resque init >/dev/null &&
		RESQUE_HOME=$A_HOME resque remote add origin "$SCRATCH/other.git" && RESQUE_HOME=$A_HOME resque push >/dev/null) &&
	as_alice && expect_success resque remote add other "$SCRATCH/other.git" &&
	unchanged_after 1 "remote ${SQ}other${SQ} ($SCRATCH/other.git) holds another ledger: it shares no entry with this one" \
		resque pull other
'

test_expect_success 'clone removes what a killed clone left' '
	cd "$SCRATCH" && mkdir -p lo && dead=$(sh -c "echo \$\$") && mkdir "lo/.resque.tmp-$dead" &&
	RESQUE_HOME=$SCRATCH/lo-home expect_success resque clone "$SRV" lo && test ! -e "lo/.resque.tmp-$dead"
'

test_expect_success 'push, pull and clone --help; pull and push usage errors' '
	for c in clone push pull remote; do expect_success resque $c --help && grep_out "usage: resque $c" || return 1; done &&
	as_alice && expect_failure 2 resque pull --bogus && expect_failure 2 resque push a b
'

test_done
