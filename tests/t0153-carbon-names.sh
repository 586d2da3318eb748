#!/bin/sh
# The grid table's cloud region names against their source: copies of the
# source rows (tests/data/carbon/, docs/DATA.md) and the generator's list of
# corrections (scripts/gen-carbon-table.py), by tests/data/carbon/check-names.py.
. "$(dirname "$0")/lib.sh"
test_requires PYTHON3

CHECK="$RQ_ROOT/tests/data/carbon/check-names.py"
REF="$RQ_ROOT/tests/data/carbon"
GEN="$RQ_ROOT/scripts/gen-carbon-table.py"
TABLE="$RQ_ROOT/core/forecast/carbon_table.c"

test_expect_success 'the table'"'"'s cloud names are their source'"'"'s, corrected as listed' '
	expect_success "$PY" "$CHECK" "$TABLE" "$REF" "$GEN" &&
	grep_out "cloud regions checked, 0 problems" &&
	grep -q "{ \"azure:germanynortheast\", \"germanynortheast\", \"Azure Germany Northeast (Sovereign) (DE)\"" "$TABLE" &&
	grep -q "{ \"azure:germanynortheastt\", \"azure:germanynortheast\" }" "$TABLE" &&
	grep -q "{ \"gcp:me-cenrtal1\", \"gcp:me-central1\" }" "$TABLE" &&
	! grep -q "\"azure:germanynortheastt\", \"germanynortheastt\"" "$TABLE"
'

test_expect_success 'a new typo of the source, faithfully copied, fails' '
	mkdir typo && cp "$REF"/*.csv typo/ &&
	sed "s/^azure,France Central,/azure,Frnace Central,/" "$REF/cloud-datacenters-ref.csv" >typo/cloud-datacenters-ref.csv &&
	sed "s/\"azure:francecentral\", \"francecentral\", \"Azure France Central (FR)\"/\"azure:frnacecentral\", \"frnacecentral\", \"Azure Frnace Central (FR)\"/" \
		"$TABLE" >typo.c && ! cmp -s "$TABLE" typo.c &&
	expect_failure 1 "$PY" "$CHECK" typo.c typo "$GEN" &&
	grep_out "azure:frnacecentral: .frnace. is not a word of region names" &&
	grep_out "1 problems"
'

test_expect_success 'a table name that is not its source'"'"'s fails' '
	sed "s/\"Azure West Europe (NL)\"/\"Azure West Europe (Amsterdam) (NL)\"/" "$TABLE" >edited.c &&
	! cmp -s "$TABLE" edited.c &&
	expect_failure 1 "$PY" "$CHECK" edited.c "$REF" "$GEN" &&
	grep_out "azure:westeurope: the table says"
'

test_expect_success 'the table as it was before the corrections fails' '
	sed -e "s/germanynortheast\([\",]\)/germanynortheastt\1/g; s/Germany Northeast (/Germany Northeastt (/" \
	    -e "s/me-central1/me-cenrtal1/g" -e "/^const rq_region_alias/,/^};/d" "$TABLE" >before.c &&
	expect_failure 1 "$PY" "$CHECK" before.c "$REF" "$GEN" &&
	grep_out "azure:germanynortheastt: .northeastt. is not a word" &&
	grep_out "gcp:me-cenrtal1: .cenrtal. is not a word" &&
	grep_out "no alias azure:germanynortheastt -> azure:germanynortheast"
'

test_expect_success 'a correction the source no longer needs, or that fixes nothing, fails' '
	sed "s/Germany Northeastt (Sovereign)/Germany Northeast (Sovereign)/" "$REF/cloud-datacenters-ref.csv" >fixed.csv &&
	mkdir fixed && cp "$REF"/*.csv fixed/ && mv fixed.csv fixed/cloud-datacenters-ref.csv &&
	expect_failure 1 "$PY" "$CHECK" "$TABLE" fixed "$GEN" &&
	grep_out "correction .Germany Northeastt .Sovereign.. -> .Germany Northeast .Sovereign.. matches 0 rows" &&
	sed "s/^CORRECTIONS = \[/CORRECTIONS = [(\"codecarbon\/impact.csv\", \"region\", \"us-east1\", \"us-east2\", \"none\"),/" "$GEN" >gen.py &&
	! cmp -s "$GEN" gen.py &&
	expect_failure 1 "$PY" "$CHECK" "$TABLE" "$REF" gen.py &&
	grep_out "correction .us-east1. -> .us-east2. does not fix a misspelt word"
'

test_done
