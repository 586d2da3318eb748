#!/bin/sh
# The HTML report in a real browser: headless Chromium (Debian's chromium),
# every network request blocked, opens the report of a real repository and
# a rich fixture (tests/data/report-sample.json, through the test helper
# rq-report-html); the charts must be laid out with non-zero size and their
# marks drawn (DOM dump of a test-only copy that measures them), not blank
# in a screenshot, and the NetLog must show no request from the page. A
# copy with an external image proves the NetLog and markup checks can fail.
# Skipped, with the reason, when chromium or python3-pil is missing.
. "$(dirname "$0")/lib.sh"

CHECK="$PY $RQ_ROOT/tests/browser/check.py"
BROWSER="sh $RQ_ROOT/tests/browser/chromium.sh"
W=1200
H=3400

# CHROMIUM names another browser binary (or a missing one, to see the skip).
CHROMIUM=${CHROMIUM:-chromium}
export CHROMIUM
skip=""
if ! command -v "$CHROMIUM" >/dev/null 2>&1; then
	skip="$CHROMIUM is not installed: run sh scripts/install-deps.sh"
elif ! "$PY" -c "import PIL" 2>/dev/null; then
	skip="python3-pil is not installed: run sh scripts/install-deps.sh"
fi

# browser_case 'what it checks' 'body': a case that needs the browser.
browser_case() {
	if [ -n "$skip" ]; then
		test_skip "$1" "$skip"
	else
		test_expect_success "$1" "$2"
	fi
}

# open_report NAME: screenshot and NetLog of NAME.html as written, then
# the DOM of the measuring copy; checks the charts.
open_report() {
	$BROWSER "$SCRATCH/prof" --window-size=$W,$H --virtual-time-budget=2000 \
		--log-net-log="$1.netlog" --screenshot="$SCRATCH/$1.png" "file://$SCRATCH/$1.html" \
		>"$1.browser.log" 2>&1 &&
	test -s "$1.png" &&
	$CHECK inject "$1.html" "$1.measure.html" &&
	$BROWSER "$SCRATCH/prof" --window-size=$W,$H --virtual-time-budget=2000 --dump-dom \
		"file://$SCRATCH/$1.measure.html" >"$1.dom" 2>>"$1.browser.log" &&
	$CHECK dom "$1.dom" "$1.rects" &&
	$CHECK shot "$1.png" "$1.rects" &&
	$CHECK netlog "$1.netlog"
}

test_expect_success 'setup: the fixture rendered, and the report of a real repository' '
	expect_success rq-report-html <"$RQ_ROOT/tests/data/report-sample.json" && cp "$OUT" fixture.html &&
	RESQUE_NOW=2024-06-01T00:00:00Z expect_success resque init p && cd p &&
	expect_success resque config region FR &&
	"$PY" -c "import numpy as np; g=np.random.default_rng(1); np.save(\"e1.npy\", g.standard_normal((200, 6)).astype(np.float32)); np.save(\"l1.npy\", g.integers(0, 3, 200)); np.save(\"e2.npy\", (g.standard_normal((200, 6)) + 0.3).astype(np.float32))" &&
	printf w1 >w1.bin &&
	printf "{\"epochs\": 10, \"energy_kwh\": 4, \"duration_s\": 600, \"hardware\": \"gpu\"}" >c1.json &&
	RESQUE_NOW=2024-06-02T00:00:00Z expect_success resque commit --weights w1.bin --name v1 --embeddings e1.npy --labels l1.npy --cost c1.json &&
	RESQUE_NOW=2024-07-01T00:00:00Z expect_success resque plan --from v1 --embeddings e2.npy --labels l1.npy --json &&
	plan=$(json_get "$OUT" "d[\"plans\"][0][\"id\"]") &&
	RESQUE_NOW=2025-01-02T00:00:00Z expect_success resque record --plan "$plan" --epochs 4 --energy-kwh 1.5 &&
	expect_success resque report --format html -o ../real.html &&
	cd .. && expect_success resque init q && cd q &&
	expect_success resque report --format html -o ../empty.html
'

test_expect_success 'nothing in the markup or the style sheet can fetch anything' '
	for f in fixture real empty; do $CHECK static $f.html || return 1; done &&
	! grep -i -E "src=|url\(|@import|<link|<img|<iframe" fixture.html real.html empty.html &&
	test "$(grep -c "<script type=" fixture.html)" = 1 &&
	grep -q "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src '"'"'none'"'"'" real.html
'

test_expect_success 'the evidence block is the report JSON, and every cell re-derives from it' '
	expect_success rq-report-html --extract fixture.html <fixture.html &&
	head -1 "$OUT" >got.json &&
	"$PY" -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a != b)" \
		"$RQ_ROOT/tests/data/report-sample.json" got.json &&
	! grep "^check " "$OUT" &&
	test "$(grep -c "	" "$OUT")" -gt 150 &&
	grep -q "^updates.1.shift_family	new <classes> & \"labels\"$" "$OUT" &&
	expect_success rq-report-html --extract real.html <real.html && ! grep "^check " "$OUT"
'

# In the fixture: an entry whose bytes would close the evidence block and
# open an executable script, and a version named with markup.
evil='\u003c/script>\u003cscript>alert(1)\u003c/script>\u003c!-- x -->'
cell='data-rq="versions.2.name">v3-&lt;b&gt;bold&lt;/b&gt;&amp;amp;</td>'

test_expect_success 'hostile strings are escaped, the evidence cannot close its script' '
	grep -q -F "$cell" fixture.html &&
	grep -q -F "$evil" fixture.html &&
	test "$(grep -c "</script>" fixture.html)" = 1 &&
	test "$(grep -c "<!--" fixture.html)" = 0 &&
	# the block is valid JSON as it stands, for any JSON parser
	"$PY" -c "import json,re,sys; t=open(sys.argv[1]).read(); m=re.search(r\"<script type=.application/json. id=.resque-report.>(.*?)</script>\", t, re.S); d=json.loads(m.group(1)); assert \"alert(1)\" in json.dumps(d)" fixture.html
'

browser_case 'the fixture: charts laid out, drawn, visible; no request' '
	open_report fixture &&
	"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(len(r) != 3 or any(v[\"empty\"] for v in r.values()))" fixture.rects
'

browser_case 'the report of a real repository: the same' '
	open_report real
'

browser_case 'an empty report: each chart shows its empty-state message' '
	open_report empty &&
	"$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(len(r) != 3 or not all(v[\"empty\"] for v in r.values()))" empty.rects
'

browser_case 'the checks can fail: an external image and style sheet are caught' '
	sed "s,</body>,<img src=\"http://example.org/x.png\"><link rel=\"stylesheet\" href=\"https://example.com/a.css\"></body>," \
		fixture.html >bad.html &&
	! $CHECK static bad.html 2>bad.static &&
	grep -q "<img>" bad.static && grep -q "href=https://example.com/a.css" bad.static &&
	$CHECK inject bad.html bad.open.html &&
	$BROWSER "$SCRATCH/prof" --window-size=$W,$H --virtual-time-budget=2000 --log-net-log=bad.netlog \
		--dump-dom "file://$SCRATCH/bad.open.html" >bad.dom 2>bad.browser.log &&
	! $CHECK netlog bad.netlog 2>bad.net &&
	grep -q "the page requested http://example.org/x.png" bad.net &&
	grep -q "the page requested https://example.com/a.css" bad.net &&
	sed "s,<rect class=\"bar,<rect style=\"display:none\" class=\"bar,g" fixture.html >hidden.html &&
	$CHECK inject hidden.html hidden.measure.html &&
	$BROWSER "$SCRATCH/prof" --window-size=$W,$H --virtual-time-budget=2000 --dump-dom \
		"file://$SCRATCH/hidden.measure.html" >hidden.dom 2>>bad.browser.log &&
	! $CHECK dom hidden.dom hidden.rects 2>hidden.err &&
	grep -q "chart-versions: marks drawn" hidden.err
'

test_done
