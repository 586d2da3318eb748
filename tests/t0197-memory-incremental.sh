#!/bin/sh
# The memory of what was verified grows by what is new, not by rewriting
# itself (issue 16): each append adds its records to the memory's files,
# the Merkle root comes from a cached frontier (REPOSITORY.frontier), the
# names file is appended to. The cache and an interrupted append are
# recovered from, and a wrong frontier is never believed.
. "$(dirname "$0")/lib.sh"
# A preloaded library (tests/helpers/rq-fail.so) comes before a sanitizer's
# runtime: let it.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0"
export ASAN_OPTIONS
test_requires NUMPY

KNOWN="$RESQUE_HOME/known"
frontier() { ls "$KNOWN"/*.frontier; }
root() { sed -n 2p "$RESQUE_HOME/known_ledgers" | cut -d" " -f4; }

test_expect_success 'setup: a ledger with named and unnamed entries' '
	resque key gen >/dev/null && expect_success resque init p &&
	make_embeddings e 1 0 >/dev/null &&
	for m in one two three; do resque -C p note -m "$m" >/dev/null || return 1; done &&
	expect_success resque -C p commit --weights e-emb.npy --name v1 &&
	test -s "$(frontier)" && test "$(wc -c <"$(frontier)")" = 2064
'

test_expect_success 'the root remembered after appends is that of a full recomputation (verify --forget)' '
	for m in four five six seven; do resque -C p note -m "$m" >/dev/null || return 1; done &&
	incremental=$(root) && test -n "$incremental" &&
	expect_success resque -C p verify --forget && expect_success resque -C p verify &&
	test "$(root)" = "$incremental"
'

test_expect_success 'a damaged frontier is not believed: recomputed from the leaves, the same root' '
	head -c 2064 /dev/urandom >"$(frontier)" &&
	expect_success resque -C p note -m eight && after=$(root) &&
	expect_success resque -C p verify && grep_out "^ok: 10 entries" &&
	expect_success resque -C p verify --forget && expect_success resque -C p verify && test "$(root)" = "$after"
'

test_expect_success 'a frontier of another size, or none, is recomputed' '
	cp "$(frontier)" f.old && expect_success resque -C p note -m nine &&
	cp f.old "$(frontier)" && expect_success resque -C p note -m ten &&
	rm "$(frontier)" && expect_success resque -C p note -m eleven && test -s "$(frontier)" &&
	after=$(root) && expect_success resque -C p verify --forget && expect_success resque -C p verify &&
	test "$(root)" = "$after" && expect_success resque -C p show v1
'

test_expect_success 'a names file left with a half-written line (a crash) still names what it remembered' '
	names=$(ls "$KNOWN"/*.names) && printf "99 version 7631" >>"$names" &&
	expect_success resque -C p show v1 &&
	expect_success resque -C p commit --weights e-emb.npy --name v2 --parent v1 &&
	! grep -q "^99 " "$names" &&
	expect_success resque -C p show v2 && expect_success resque -C p show v1 &&
	expect_success resque -C p verify
'

test_expect_success 'the memory files grow by the new entry only (the names file is appended to, not rewritten)' '
	ino=$(ls -i "$KNOWN"/*.names | cut -d" " -f1) &&
	expect_success resque -C p commit --weights e-emb.npy --name v3 --parent v2 &&
	test "$(ls -i "$KNOWN"/*.names | cut -d" " -f1)" = "$ino" &&
	test "$(wc -c <"$(ls "$KNOWN"/*.leaves)")" = $((32 * 15)) &&
	test "$(wc -c <"$(ls "$KNOWN"/*.ids)")" = $((32 * 15)) &&
	test "$(wc -c <"$(ls "$KNOWN"/*.commits)")" = $((20 * 15))
'

test_expect_success FAULT_SHIM 'a failed write of the memory during an append loses none of what it held' '
	names=$(ls "$KNOWN"/*.names) && cp "$names" names.before &&
	LD_PRELOAD="$RESQUE_BUILD/helpers/rq-fail.so" RQ_FAIL_CALLS=fdatasync RQ_FAIL_PATH=/known/ RQ_FAIL_ERRNO=ENOSPC \
		resque -C p commit --weights e-emb.npy --name v4 --parent v3 >out 2>err &&
	grep "could not remember" err &&
	head -c "$(wc -c <names.before)" "$names" | cmp - names.before &&
	expect_success resque -C p show v1 &&
	expect_error 1 "exists already" resque -C p commit --weights e-emb.npy --name v2 &&
	expect_success resque -C p show v4 && expect_success resque -C p verify
'

test_expect_success 'a batch of appends through the library (rq-bulk) is remembered once, at its end: nothing to verify again' '
	"$RESQUE_BUILD/helpers/rq-bulk" q/.resque 40 >/dev/null &&
	test "$(wc -c <"$(ls -S "$KNOWN"/*.leaves | head -1)")" -ge $((32 * 40)) &&
	expect_success resque -C q log -n 1 && ! grep -q "verifying the ledger first" "$ERR" &&
	expect_success resque -C q verify && grep_out "^ok: 40 entries"
'

test_done
