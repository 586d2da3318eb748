#!/bin/sh
# resque import, run again on the same files (a CI step re-run): exit 0,
# "already imported as ID", --json prints the existing actual; what "the
# same" means: the files' fingerprints (nvidia-smi), the run (CodeCarbon).
. "$(dirname "$0")/lib.sh"

cat >a.csv <<'CSV'
timestamp, index, power.draw [W]
2023/03/08 10:00:00.000, 0, 100 W
2023/03/08 10:00:01.000, 0, 200 W
2023/03/08 10:00:02.000, 0, 100 W
CSV
sed 's/, 0, /, 1, /' a.csv >b.csv

test_expect_success 'setup: a repository' '
	expect_success resque init p && cp a.csv b.csv p/
'

test_expect_success 'nvidia-smi: the same file again exits 0, says as what, records nothing' '
	cd p && expect_success resque import nvidia-smi a.csv --region FR --json &&
	id=$(json_get "$OUT" "d[0][\"id\"]") && echo "$id" >../a.id &&
	repo_state >before &&
	expect_success resque import nvidia-smi a.csv --region FR &&
	test "$(cat "$OUT")" = "a.csv: already imported as $(echo "$id" | cut -c1-12)" &&
	expect_success resque import nvidia-smi a.csv --json --name other &&
	grep -F "a.csv: already imported as $(echo "$id" | cut -c1-12)" "$ERR" &&
	grep -F "warning: a.csv: imported already: the options given are not applied (the actual stays as recorded)" "$ERR" &&
	test "$(json_get "$OUT" "d[0][\"name\"]")" = None &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"id\"]")" = "$id" &&
	test "$(json_get "$OUT" "d[0][\"region\"] if \"region\" in d[0] else d[0][\"body\"][\"region\"]")" = FR &&
	expect_success resque import nvidia-smi a.csv --power-column "power.draw [W]" --time-column timestamp &&
	grep -F "warning: a.csv: imported already: the options given are not applied (the actual stays as recorded)" "$ERR" &&
	repo_state >after && compare before after
'

test_expect_success 'nvidia-smi: the same bytes under another name are the same log; other bytes under the same name are not' '
	cd p && id=$(cat ../a.id) && cp a.csv renamed.csv && repo_state >before &&
	expect_success resque import nvidia-smi renamed.csv &&
	grep -F "renamed.csv: already imported as $(echo "$id" | cut -c1-12)" "$OUT" &&
	repo_state >after && compare before after &&
	mkdir other && sed "s/200 W/250 W/" a.csv >other/a.csv &&
	expect_success resque import nvidia-smi other/a.csv --json &&
	test "$(json_get "$OUT" "d[0][\"id\"]")" != "$id" &&
	test "$(json_get "$OUT" "d[0][\"body\"][\"source\"][\"file\"]")" = other/a.csv
'

test_expect_success 'nvidia-smi: several files are one import whatever their order; one of them alone is refused' '
	cd p && sed "s/10:00:0/11:00:0/" a.csv >e.csv && sed "s/10:00:0/11:00:0/" b.csv >f.csv &&
	expect_success resque import nvidia-smi e.csv f.csv --json &&
	id=$(json_get "$OUT" "d[0][\"id\"]") &&
	test "$(json_get "$OUT" "len(d[0][\"body\"][\"source\"][\"files\"])")" = 2 &&
	repo_state >before &&
	expect_success resque import nvidia-smi f.csv e.csv --json &&
	test "$(json_get "$OUT" "d[0][\"id\"]")" = "$id" &&
	grep -F "f.csv: already imported as $(echo "$id" | cut -c1-12)" "$ERR" &&
	expect_error 1 "f.csv: imported already as part of $(echo "$id" | cut -c1-12), with other files: importing it again would count its energy twice" \
		resque import nvidia-smi f.csv &&
	repo_state >after && compare before after
'

cat >cc.csv <<'CSV'
timestamp,project_name,run_id,duration,emissions,energy_consumed,country_iso_code
2024-01-01T10:00:00,p,aaaaaaaa-0000-4000-8000-000000000001,10,0.001,0.01,FRA
2024-01-01T11:00:00,p,aaaaaaaa-0000-4000-8000-000000000002,20,0.002,0.02,FRA
CSV
cat >noid.csv <<'CSV'
timestamp,duration,emissions,energy_consumed
2024-02-01T10:00:00,10,0.001,0.01
CSV

test_expect_success 'codecarbon: the same file again exits 0 and names each run as imported' '
	cp cc.csv noid.csv p/ && cd p &&
	expect_success resque import codecarbon cc.csv --json &&
	ids=$(json_get "$OUT" "\" \".join(sorted(x[\"id\"] for x in d))") &&
	repo_state >before &&
	expect_success resque import codecarbon cc.csv &&
	grep -F "cc.csv: run '\''aaaaaaaa-0000-4000-8000-000000000001'\'' already imported as" "$OUT" &&
	grep -F "cc.csv: run '\''aaaaaaaa-0000-4000-8000-000000000002'\'' already imported as" "$OUT" &&
	expect_success resque import codecarbon cc.csv --json &&
	test "$(json_get "$OUT" "\" \".join(sorted(x[\"id\"] for x in d))")" = "$ids" &&
	repo_state >after && compare before after
'

test_expect_success 'codecarbon: a run without a run id is known again by its row' '
	cd p && expect_success resque import codecarbon noid.csv --json &&
	id=$(json_get "$OUT" "d[0][\"id\"]") && repo_state >before &&
	expect_success resque import codecarbon noid.csv --json &&
	test "$(json_get "$OUT" "d[0][\"id\"]")" = "$id" &&
	grep -F "noid.csv: already imported as $(echo "$id" | cut -c1-12)" "$ERR" &&
	repo_state >after && compare before after &&
	printf "2024-02-01T12:00:00,30,0.003,0.03\n" >>noid.csv &&
	expect_success resque import codecarbon noid.csv --json &&
	test "$(json_get "$OUT" "len(d)")" = 1 &&
	test "$(json_get "$OUT" "d[0][\"energy_kwh\"]")" = 0.03
'

test_expect_success 'codecarbon: a run that went on after its import is not recorded twice; the change is named' '
	cd p && repo_state >before &&
	sed "s/,20,0.002,0.02,/,25,0.0025,0.025,/" cc.csv >grown.csv &&
	expect_success resque import codecarbon grown.csv &&
	grep -F "grown.csv: run '\''aaaaaaaa-0000-4000-8000-000000000002'\'' was imported as" "$ERR" &&
	grep -F "with 0.02 kWh; the file now says 0.025 kWh (not updated)" "$ERR" &&
	grep -c "already imported as" "$OUT" &&
	repo_state >after && compare before after
'

test_expect_success 'nvidia-smi: a file imported alone is named when given with others, whatever its place' '
	cd p && sed "s/10:00:0/12:00:0/" a.csv >g.csv && sed "s/10:00:0/12:00:0/" b.csv >h.csv &&
	expect_success resque import nvidia-smi g.csv --json && id=$(json_get "$OUT" "d[0][\"id\"]") &&
	repo_state >before &&
	expect_error 1 "g.csv: imported already (alone) as $(echo "$id" | cut -c1-12): importing it again with other files would count its energy twice" \
		resque import nvidia-smi h.csv g.csv &&
	repo_state >after && compare before after
'

# body FILE FPS...: the actual of FILE (an import's --json) with
# source.files set to FPS (one: source.fingerprint alone).
forge() {
	"$PY" -c "
import json,sys
b=json.load(open(sys.argv[1]))[0][\"body\"]; s=b[\"source\"]; s.pop(\"files\",None)
fps=sys.argv[2:]
if len(fps)==1: s[\"fingerprint\"]=fps[0]
else: s[\"files\"]=[{\"file\":\"x%d.csv\"%i,\"fingerprint\":f} for i,f in enumerate(fps)]
print(json.dumps(b))" "$@"
}

test_expect_success 'nvidia-smi: the exact import is found before one sharing some of the files (both orders)' '
	expect_success resque init q1 && expect_success resque init q2 &&
	sed "s/10:00:0/13:00:0/" a.csv >q1/k.csv && sed "s/10:00:0/13:00:0/" b.csv >q1/l.csv && cp q1/k.csv q1/l.csv q2/ &&
	ka=$(resque fingerprint q1/k.csv | cut -d" " -f1) && lb=$(resque fingerprint q1/l.csv | cut -d" " -f1) &&
	(cd q1 && expect_success resque import nvidia-smi k.csv l.csv --json && cp "$OUT" ../both.json &&
		forge ../both.json "$ka" | rq-append .resque actual >/dev/null &&
		expect_success resque import nvidia-smi l.csv k.csv &&
		grep -F "l.csv: already imported as $(json_get "$(cat ../both.json)" "d[0][\"id\"]" | cut -c1-12)" "$OUT") &&
	(cd q2 && expect_success resque import nvidia-smi k.csv &&
		exact=$(forge ../both.json "$ka" "$lb" | rq-append .resque actual) &&
		expect_success resque import nvidia-smi k.csv l.csv &&
		grep -F "k.csv: already imported as $(echo "$exact" | cut -c1-12)" "$OUT")
'

test_expect_success 'codecarbon: a run stored with run_id "None" (older versions) is known again by its row' '
	expect_success resque init q3 && cd q3 &&
	printf "timestamp,run_id,duration,emissions,energy_consumed\n2024-03-01T10:00:00,None,10,0.001,0.01\n" >none.csv &&
	echo "{\"energy_kwh\": 0.01, \"carbon_kg\": 0.001, \"duration_s\": 10, \"method\": \"imported\", \"meter\": \"codecarbon\", \"status\": \"succeeded\", \"source\": {\"format\": \"codecarbon\", \"file\": \"none.csv\", \"run_id\": \"None\", \"timestamp\": \"2024-03-01T10:00:00\"}}" |
		rq-append .resque actual >old.id &&
	repo_state >before &&
	expect_success resque import codecarbon none.csv &&
	grep -F "already imported as $(cut -c1-12 old.id)" "$OUT" &&
	repo_state >after && compare before after
'

test_expect_success 'the ledger verifies' '
	cd p && expect_success resque verify
'

# Two people import the same two logs (in another order) and one pulls
# with --rebase: pull knows the import by the same identity.
test_expect_success 'pull --rebase records logs imported on both sides once' '
	A=$SCRATCH/ha && B=$SCRATCH/hb && SRV=$SCRATCH/srv.git && git init -q --bare "$SRV" &&
	mkdir alice && (cd alice && RESQUE_HOME=$A resque key gen && RESQUE_HOME=$A resque init &&
		RESQUE_HOME=$B resque key gen &&
		RESQUE_HOME=$A resque key add --name bob "$(RESQUE_HOME=$B resque key export)" &&
		RESQUE_HOME=$A resque remote add origin "$SRV" && RESQUE_HOME=$A resque push) >/dev/null 2>&1 &&
	RESQUE_HOME=$B expect_success resque clone "$SRV" bob &&
	cp a.csv b.csv alice/ && cp a.csv b.csv bob/ &&
	(cd bob && RESQUE_HOME=$B expect_success resque import nvidia-smi a.csv b.csv) &&
	(cd alice && RESQUE_HOME=$A expect_success resque import nvidia-smi b.csv a.csv &&
		RESQUE_HOME=$A expect_success resque push) &&
	cd bob && RESQUE_HOME=$B expect_success resque pull --rebase &&
	grep -F "imports the run the remote imported" "$ERR" &&
	n=$(git --git-dir=.resque log --format=%H ledger | while read c; do git --git-dir=.resque cat-file blob "$c:entry"; echo; done | grep -c "\"meter\":\"nvidia-smi\"") &&
	test "$n" = 1 && RESQUE_HOME=$B expect_success resque verify
'

test_expect_success 'pull --rebase: a run stored with run_id "None" (older versions) is the run imported without one' '
	A=$SCRATCH/ha && B=$SCRATCH/hb &&
	printf "timestamp,run_id,duration,emissions,energy_consumed\n2024-04-01T10:00:00,None,10,0.001,0.01\n" >none2.csv &&
	cp none2.csv bob/ &&
	(cd alice && RESQUE_HOME=$A expect_success resque pull &&
		echo "{\"energy_kwh\": 0.01, \"carbon_kg\": 0.001, \"duration_s\": 10, \"method\": \"imported\", \"meter\": \"codecarbon\", \"status\": \"succeeded\", \"source\": {\"format\": \"codecarbon\", \"file\": \"none2.csv\", \"run_id\": \"None\", \"timestamp\": \"2024-04-01T10:00:00\"}}" |
		RESQUE_HOME=$A rq-append .resque actual >/dev/null && RESQUE_HOME=$A expect_success resque push) &&
	cd bob && RESQUE_HOME=$B expect_success resque import codecarbon none2.csv &&
	RESQUE_HOME=$B expect_success resque pull --rebase &&
	grep -F "imports the run the remote imported" "$ERR" &&
	n=$(git --git-dir=.resque log --format=%H ledger | while read c; do git --git-dir=.resque cat-file blob "$c:entry"; echo; done | grep -c "2024-04-01T10:00:00") &&
	test "$n" = 1 && RESQUE_HOME=$B expect_success resque verify
'

test_done
