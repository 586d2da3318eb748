#!/bin/sh
# Read-only and full disks, an index.db of a newer schema: readers work from
# the ledger in memory and say so once; writers refuse and change nothing.
# The read-only repository is a read-only bind mount (root ignores chmod);
# the full disk a small tmpfs. Both need mount(8) to work here.
. "$(dirname "$0")/lib.sh"

MNT="$SCRATCH/mnt"
can_mount=
mkdir -p "$SCRATCH/probe" "$MNT"
if mount --bind "$SCRATCH/probe" "$MNT" 2>/dev/null; then
	mount -o remount,ro,bind "$MNT" 2>/dev/null && ! touch "$MNT/x" 2>/dev/null && can_mount=1
	umount "$MNT"
fi

# Whatever a failed case left mounted (mounts may stack).
unmount_all() {
	while mountpoint -q "$MNT" 2>/dev/null; do umount "$MNT" || return 1; done
}

warned_once() {
	test "$(grep -c "warning: .*index.db.*working from the ledger in memory" "$ERR")" = 1
}

test_expect_success 'setup: a ledger of three entries, a copy with a stale index' '
	expect_success resque init p && cd p &&
	expect_success resque note -m one && expect_success resque note -m two &&
	cd .. && cp -a p old && cd p &&
	expect_success resque note -m three && expect_success resque note -m four &&
	cd .. && cp -a p stale && cp old/.resque/index.db stale/.resque/index.db &&
	rm -f stale/.resque/index.db-wal stale/.resque/index.db-shm
'

if [ -n "$can_mount" ]; then
test_expect_success 'read-only: verify, log, show, report, audit prove work and warn once' '
	unmount_all && cp -a p ro && mount --bind ro "$MNT" && mount -o remount,ro,bind "$MNT" &&
	cd "$MNT" && before=$(repo_state) &&
	expect_success resque verify && grep_out "^ok: 5 entries verified" && warned_once &&
	grep_err "index.db: Read-only file system: working from the ledger in memory" &&
	expect_success resque log && test "$(wc -l <"$OUT")" = 5 && grep_out " four$" && warned_once &&
	id=$(resque log --json 2>/dev/null | json_get /dev/stdin "d[1][\"id\"]") &&
	expect_success resque show "$(echo "$id" | cut -c1-8)" && grep_out "^entry   $id" && warned_once &&
	expect_success resque report && grep_out "^ledger verified: yes" && warned_once &&
	expect_success resque audit prove 2 && grep_out "^index 2" && grep_out "^size 5" && warned_once &&
	test "$(repo_state)" = "$before"
'

test_expect_success 'read-only: note and reindex fail with the reason, nothing changes' '
	cd "$MNT" && before=$(repo_state) &&
	expect_failure 1 resque note -m five && grep_err "^resque: .*index.db: Read-only file system$" &&
	expect_failure 1 resque reindex && grep_err "^resque: .*index.db: Read-only file system$" &&
	test "$(repo_state)" = "$before" &&
	expect_success resque log && test "$(wc -l <"$OUT")" = 5
'

test_expect_success 'read-only with a stale index: verified from memory' '
	unmount_all && mount --bind stale "$MNT" && mount -o remount,ro,bind "$MNT" &&
	cd "$MNT" && before=$(repo_state) &&
	expect_success resque verify && grep_out "^ok: 5 entries verified" && warned_once &&
	expect_success resque log -n 1 && grep_out " four$" &&
	test "$(repo_state)" = "$before" &&
	cd "$SCRATCH" && umount "$MNT"
'

test_expect_success 'a full disk and a stale index: verify and log from memory' '
	unmount_all && mount -t tmpfs -o size=2m tmpfs "$MNT" &&
	cp -a stale "$MNT/full" &&
	{ dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null; true; } &&
	cd "$MNT/full" && before=$(repo_state) &&
	expect_success resque verify && grep_out "^ok: 5 entries verified" && warned_once &&
	grep_err "index.db: No space left on device: working from the ledger in memory" &&
	expect_success resque log && test "$(wc -l <"$OUT")" = 5 && warned_once &&
	expect_failure 1 resque note -m five && grep_err "^resque: .*index.db: No space left on device$" &&
	test "$(repo_state)" = "$before" &&
	cd "$SCRATCH" && umount "$MNT"
'
else
test_skip 'read-only repository' 'mount --bind and remount,ro do not work here'
test_skip 'a full disk' 'mounting a tmpfs does not work here'
fi

test_expect_success 'index.db of a newer schema: readers from memory, writers refuse' '
	cp -a p newer && cd newer &&
	"$PY" -c "import sqlite3,sys; db = sqlite3.connect(sys.argv[1]); db.execute(\"PRAGMA user_version=99\"); db.commit()" .resque/index.db &&
	sum=$(sha256sum .resque/index.db) && before=$(repo_state) &&
	expect_success resque verify && grep_out "^ok: 5 entries verified" && warned_once &&
	grep_err "written by a newer resque \(schema 99\): working from the ledger in memory" &&
	expect_success resque log && test "$(wc -l <"$OUT")" = 5 && warned_once &&
	expect_failure 1 resque note -m five && grep_err "^resque: .*index.db: written by a newer resque \(schema 99\)$" &&
	expect_failure 1 resque reindex && grep_err "written by a newer resque" &&
	test "$(repo_state)" = "$before" && test "$(sha256sum .resque/index.db)" = "$sum"
'

# Nothing may stay mounted when the scratch directory is removed.
[ -n "$can_mount" ] && unmount_all
test_done
