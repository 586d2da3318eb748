#!/bin/sh
# Readable output (issue 17 item 2): `show` of a plan and of an actual in
# words (--json as before), `log` with each entry's key figures, and
# `log --graph` with the actuals linked to no plan (a run from scratch whose
# version names it as its cost, a run linked to nothing, a link's original).
. "$(dirname "$0")/lib.sh"
test_requires NUMPY

test_expect_success 'setup: a run from scratch as v1, a plan, actuals inside, outside and loose' '
	expect_success resque init p && cd p &&
	expect_success resque config region FR && expect_success resque config hardware box &&
	printf w1 >w1.bin && make_embeddings d1 1 0 && make_embeddings d2 2 0.5 &&
	expect_success resque run --meter estimate --name scratch --json -- \
		sh -c "resque mark epoch; resque mark epoch; resque mark epoch" &&
	json_get "$OUT" "d[\"id\"]" >../scratch &&
	expect_success resque commit --weights w1.bin --name v1 --embeddings d1-emb.npy --labels d1-lab.npy \
		--actual "$(cat ../scratch)" &&
	expect_success resque plan --from v1 --embeddings d2-emb.npy --labels d2-lab.npy --json &&
	json_get "$OUT" "d[\"plans\"][0][\"id\"]" >../plan &&
	json_get "$OUT" "repr(d[\"plans\"][0][\"forecast\"][\"energy_kwh\"][\"p50\"])" >../p50 &&
	json_get "$OUT" "repr(10 * d[\"plans\"][0][\"forecast\"][\"energy_kwh\"][\"p90\"] + 1)" >../far &&
	plan=$(cat ../plan) &&
	expect_success resque record --plan "$plan" --epochs 2 --energy-kwh "$(cat ../p50)" --name inside --json &&
	json_get "$OUT" "d[\"id\"]" >../inside &&
	expect_success resque record --plan "$plan" --epochs 40 --energy-kwh "$(cat ../far)" --json &&
	json_get "$OUT" "d[\"id\"]" >../outside &&
	expect_success resque run --meter estimate --name loose --json -- sh -c "resque mark epoch" &&
	json_get "$OUT" "d[\"id\"]" >../loose &&
	expect_success resque run --meter estimate --name forgot --json -- true &&
	json_get "$OUT" "d[\"id\"]" >../forgot &&
	expect_success resque record --plan "$plan" --actual "$(cat ../forgot)" --json &&
	json_get "$OUT" "d[\"id\"]" >../link
'

test_expect_success 'show PLAN: base, kind and index, forecast with intervals, from scratch' '
	cd p && plan=$(cat ../plan) &&
	expect_success resque show "$plan" --json && cp "$OUT" plan.json &&
	expect_success resque show "$plan" && cp "$OUT" plan.txt &&
	grep_out "^entry   $plan$" && grep_out "^type    plan$" &&
	grep_out "^base    v1 \($(json_get plan.json "d[\"body\"][\"from\"][:12]")\)$" &&
	grep_out "^kind    dist: RESQUE_dist index [0-9.e-]+, shift family unspecified$" &&
	grep_out "^forecast +median +80 % interval +95 % interval +mean$" &&
	grep_out "^from scratch: 3 epochs, " &&
	! grep -q "\"forecast\"" plan.txt &&
	"$PY" - plan.json plan.txt <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))["body"]
	text = open(sys.argv[2]).read().splitlines()
	for key, label in [("epochs", "epochs"), ("energy_kwh", "energy (kWh)"), ("carbon_kg", "carbon (kg CO2e)")]:
	    q = d["forecast"][key]
	    row = [l for l in text if l.startswith("  " + label + " ")]
	    assert len(row) == 1, (label, text)
	    want = "%.4g   %s %s %.4g" % (q["p50"], ("[%.4g, %.4g]" % (q["p10"], q["p90"])).ljust(20),
	                               ("[%.4g, %.4g]" % (q["p2_5"], q["p97_5"])).ljust(20), q["mean"])
	    assert row[0].split(None, len(label.split()))[-1].strip() == want.strip(), (row[0], want)
	s = d["scratch"]
	def fig(x, unit):
	    if isinstance(x, dict):
	        return "%.4g %s [%.4g, %.4g]" % (x["p50"], unit, x["p10"], x["p90"])
	    return "%.4g %s" % (x, unit)
	want = "from scratch: %s, %s, %s" % (fig(s["epochs"], "epochs"), fig(s["energy_kwh"], "kWh"), fig(s["carbon_kg"], "kg CO2e"))
	assert want in text, (want, text)
	PY
'

test_expect_success 'show --json of a plan and an actual prints the JSON as before' '
	cd p && plan=$(cat ../plan) && inside=$(cat ../inside) &&
	expect_success resque show "$plan" --json && cp "$OUT" plan.json &&
	expect_success resque show "$plan" --raw && cp "$OUT" plan.raw &&
	expect_success resque show "$inside" --json && cp "$OUT" act.json &&
	expect_success resque show "$inside" --raw && cp "$OUT" act.raw &&
	"$PY" - plan.json plan.raw act.json act.raw <<-\PY
	import json, sys
	p, praw, a, araw = (open(f).read() for f in sys.argv[1:])
	p, a = json.loads(p), json.loads(a)
	assert p["body"] == json.loads(praw)["body"] and p["type"] == "plan", p
	assert set(p) == {"id", "seq", "type", "time", "signer", "summary", "prev", "commit", "body"}, sorted(p)
	assert a["body"] == json.loads(araw)["body"] and a["inside_p80"] is True and a["epochs"] == 2, a
	PY
'

test_expect_success 'show ACTUAL: its plan and interval, figures, meter, estimated or not' '
	cd p && plan=$(cat ../plan) &&
	expect_success resque show "$(cat ../inside)" &&
	grep_out "^summary actual " && grep_out "^name    inside$" &&
	grep_out "^plan    $(echo "$plan" | cut -c1-12) \(from v1\): forecast [0-9.e+-]+ kWh, 80 % interval [0-9.e+-]+ to [0-9.e+-]+ kWh$" &&
	grep_out "^interval inside the plan.s 80 % interval of energy$" &&
	grep_out "^cost    2 epochs, [0-9.e+-]+ kWh, [0-9.e+-]+ kg CO2e, duration unknown$" && grep_out "^meter   manual: imported$" &&
	! grep -q "\"energy_kwh\"" "$OUT" &&
	expect_success resque show "$(cat ../outside)" &&
	grep_out "^interval outside the plan.s 80 % interval of energy$" && grep_out "^cost    40 epochs, " &&
	expect_success resque show "$(cat ../scratch)" &&
	grep_out "^plan    none \(not linked to a plan" && grep_out "^meter   estimate: estimated$" &&
	grep_out "^cost    3 epochs, [0-9.e+-]+ kWh, [0-9.e+-]+ kg CO2e in [0-9.]+ s$" &&
	grep_out "^status  succeeded \(exit status 0\)$" &&
	grep_out "^command sh -c .resque mark epoch; resque mark epoch; resque mark epoch.$" &&
	grep_out "^context region FR, [0-9.]+ g CO2e/kWh, PUE 1, hardware box$" &&
	expect_success resque show "$(cat ../link)" &&
	grep_out "^link of actual $(cut -c1-12 ../forgot) " && grep_out "^plan    $(echo "$plan" | cut -c1-12) "
'

test_expect_success 'log shows key figures: epochs, kWh, kg CO2e, inside or outside' '
	cd p && expect_success resque log && cp "$OUT" log.txt &&
	grep_out "^$(cut -c1-12 ../inside) .* actual inside: 2 epochs, [0-9.e+-]+ kWh, [0-9.e+-]+ kg CO2e \(imported\), inside the 80 % interval$" &&
	grep_out "^$(cut -c1-12 ../outside) .* actual: 40 epochs, [0-9.e+-]+ kWh, [0-9.e+-]+ kg CO2e \(imported\), outside the 80 % interval$" &&
	grep_out "^$(cut -c1-12 ../scratch) .* actual scratch: 3 epochs, [0-9.e+-]+ kWh, [0-9.e+-]+ kg CO2e \(estimated\)$" &&
	grep_out "^$(cut -c1-12 ../plan) .* plan from v1 \(dist\): [0-9.e+-]+ epochs, [0-9.e+-]+ kWh, [0-9.e+-]+ kg CO2e forecast$" &&
	grep_out "^$(cut -c1-12 ../link) .* link of actual $(cut -c1-12 ../forgot) to plan $(cut -c1-12 ../plan): " &&
	grep_out " version v1; cost 3 epochs, " &&
	! grep -q "$(printf "\033")" log.txt &&
	expect_success resque log --json && "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); assert all(\"summary\" in e for e in d)" "$OUT"
'

test_expect_success 'log --graph: the run from scratch under v1, the loose run at the end, a link once' '
	cd p && expect_success resque log --graph && cp "$OUT" graph.txt &&
	grep_out "^:   $(cut -c1-12 ../scratch) actual scratch: 3 epochs, .* \(its cost\)$" &&
	grep_out "^:   $(cut -c1-12 ../plan) plan from v1" &&
	grep_out "^:     $(cut -c1-12 ../inside) actual inside: .*inside the 80 % interval$" &&
	grep_out "^:     $(cut -c1-12 ../outside) actual: .*outside the 80 % interval$" &&
	grep_out "^:     $(cut -c1-12 ../link) link of actual $(cut -c1-12 ../forgot) " &&
	grep_out "^actuals linked to no plan or version:$" &&
	grep_out "^:   $(cut -c1-12 ../loose) actual loose: 1 epoch, " &&
	test "$(grep -c "$(cut -c1-12 ../forgot)" graph.txt)" = 1 &&
	test "$(grep -c "$(cut -c1-12 ../scratch)" graph.txt)" = 1 &&
	expect_success resque log --graph --json &&
	"$PY" - "$OUT" ../loose ../scratch <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	ids = {e["id"] for e in d}
	assert open(sys.argv[2]).read().strip() in ids and open(sys.argv[3]).read().strip() in ids
	PY
'

test_expect_success 'log --graph of a ledger with only loose actuals' '
	expect_success resque init q && cd q &&
	expect_success resque run --meter estimate --name alone -- true &&
	expect_success resque log --graph &&
	grep_out "^no versions yet" && grep_out "^actuals linked to no plan or version:$" && grep_out "^:   [0-9a-f]{12} actual alone: "
'

test_expect_success 'control characters of forged entries are never printed raw by show and log' '
	expect_success resque init evil && cd evil &&
	printf "%s" "{\"name\":\"ev\\u001b]0;T\\u0007il\",\"meter\":\"m\\u009b2J\",\"method\":\"est\\u001b[31m\",\"energy_kwh\":0.5,\"region\":\"R\\u001b[31m\",\"hardware\":\"h\\u007f\",\"command\":[\"a\\u001bb\"],\"source\":{\"format\":\"f\\u0007\",\"file\":\"x\\u001b[2J\"},\"status\":\"s\\u001b\",\"plan\":\"p\\u001bq\"}" |
		rq-append .resque actual >../evil-actual &&
	printf "%s" "{\"from\":\"f\\u001b\",\"from_name\":\"v\\u001b]2;X\\u0007\",\"kind\":\"k\\u001b\",\"shift_family\":\"s\\u009d\",\"family\":\"fa\\u001b\",\"region\":\"r\\u001b\",\"hardware\":\"h\\u001b\",\"energy_per_epoch\":{\"kwh\":1,\"source\":\"src\\u001b\"},\"calibration\":{\"basis\":\"b\\u001b\"},\"forecast\":{\"energy_kwh\":{\"p50\":1}}}" |
		rq-append .resque plan >../evil-plan &&
	printf "%s" "{\"message\":\"n\\u001b[2Jote\\u007f\"}" | rq-append .resque note >/dev/null &&
	for c in "show $(cat ../evil-actual)" "show $(cat ../evil-plan)" "log" "log --graph"; do
		expect_success resque --color=always $c && cat "$OUT" >>all.out || return 1
	done &&
	grep -q "ev?\]0;T?il" all.out && grep -q "source  f? x?\[2J" all.out && grep -q "meter   m?2J" all.out &&
	"$PY" - all.out <<-\PY
	import re, sys
	b = open(sys.argv[1], "rb").read()
	b = re.sub(rb"\x1b\[(32|1;31|33|1)?m", b"", b)  # resque'"'"'s own colours
	bad = [c for c in b.decode("utf-8") if (ord(c) < 0x20 and c != "\n") or 0x7f <= ord(c) <= 0x9f]
	assert not bad, bad
	PY
'

test_expect_success 'show prints no nan for figures an entry lacks' '
	cd p && plan=$(cat ../plan) &&
	expect_success resque record --plan "$plan" --epochs 2 --energy-kwh 0.5 --json &&
	id=$(json_get "$OUT" "d[\"id\"]") &&
	expect_success resque show "$id" && ! grep_out nan && grep_out "^cost    2 epochs, 0.5 kWh, .*, duration unknown$" &&
	printf "%s" "{\"from\":\"f\",\"kind\":\"dist\",\"forecast\":{\"energy_kwh\":{\"p50\":1}},\"saving\":{\"energy_kwh\":1},\"energy_per_epoch\":{}}" |
		rq-append .resque plan >../bare-plan &&
	expect_success resque show "$(cat ../bare-plan)" && ! grep_out nan && ! grep_out NaN &&
	grep_out "index unknown" && grep_out "PUE unknown"
'

test_expect_success 'bad references to show are refused and nothing changes' '
	cd p && repo_state >before &&
	expect_error 1 "no entry named or identified by" resque show ffffffffff &&
	expect_failure 2 resque show "$(cat ../plan)" --json --raw && grep_err "cannot be used together" &&
	repo_state >after && compare before after
'

test_done
