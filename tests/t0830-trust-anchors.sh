#!/bin/sh
# Trust anchors: resque key export prints a signer's public key in one line
# (C2SP vkey); verify --key / --keys require the genesis signer to be one of
# them; verify's memory pins each repository id to its genesis entry, so a
# ledger re-created with another key but the same id is caught.
. "$(dirname "$0")/lib.sh"

G=proj/.resque
git_() { git --git-dir="$G" "$@"; }
MALLORY="$SCRATCH/mallory"
BOB="$SCRATCH/bob"

# The vkey line of a public key, by hand (C2SP signed-note, Ed25519):
# NAME+HEX(SHA-256(NAME || 0x0A || 0x01 || key)[:4])+BASE64(0x01 || key).
vkey() { # public-key-file
	"$PY" -c '
import base64, hashlib, sys
f = dict(l.split(" ", 1) for l in open(sys.argv[1]).read().splitlines() if " " in l)
pk = bytes.fromhex(f["public"]); name = "resque-key-" + f["id"]
h = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
print(name + "+" + h.hex() + "+" + base64.b64encode(b"\x01" + pk).decode())' "$1"
}

# A ledger written from scratch that keeps an existing repository id but has
# its own genesis, signed by another key: what someone re-creating a ledger
# would do. Independent of resque: canonical JSON, Ed25519 after RFC 8032 §6
# in pure Python, git plumbing for the commits.
#   forge.py GIT_DIR SECRET_KEY_FILE NOTES  (prints the new tip's entry id)
cat >forge.py <<'EOF'
import hashlib, json, subprocess, sys

p = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
d = -121665 * pow(121666, p - 2, p) % p
I = pow(2, (p - 1) // 4, p)

def inv(x): return pow(x, p - 2, p)

def xrecover(y):
    xx = (y * y - 1) * inv(d * y * y + 1)
    x = pow(xx, (p + 3) // 8, p)
    if (x * x - xx) % p: x = x * I % p
    return p - x if x % 2 else x

B = (xrecover(4 * inv(5) % p), 4 * inv(5) % p)

def add(P, Q):
    (x1, y1), (x2, y2) = P, Q
    t = d * x1 * x2 * y1 * y2
    return ((x1 * y2 + x2 * y1) * inv(1 + t) % p, (y1 * y2 + x1 * x2) * inv(1 - t) % p)

def mul(P, e):
    Q = (0, 1)
    while e:
        if e & 1: Q = add(Q, P)
        P, e = add(P, P), e >> 1
    return Q

def enc(P): return (P[1] | (P[0] & 1) << 255).to_bytes(32, 'little')
def H(m): return hashlib.sha512(m).digest()

def expand(seed):
    h = H(seed)
    a = int.from_bytes(h[:32], 'little') & ((1 << 254) - 8) | (1 << 254)
    return a, h[32:], enc(mul(B, a))

def sign(seed, msg):
    a, prefix, A = expand(seed)
    r = int.from_bytes(H(prefix + msg), 'little') % L
    R = enc(mul(B, r))
    k = int.from_bytes(H(R + A + msg), 'little') % L
    return R + ((r + k * a) % L).to_bytes(32, 'little')

def git(gd, *args, data=None):
    return subprocess.run(['git', '--git-dir=' + gd, *args], input=data, stdout=subprocess.PIPE,
                          check=True).stdout.decode().strip()

def canonical(o):
    return json.dumps(o, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()

gd, keyfile, notes = sys.argv[1], sys.argv[2], int(sys.argv[3])
f = dict(l.split(' ', 1) for l in open(keyfile).read().splitlines() if ' ' in l)
seed, pk = bytes.fromhex(f['secret'])[:32], bytes.fromhex(f['public'])
assert expand(seed)[2] == pk, 'the RFC 8032 public key differs from the key file'
keyid = hashlib.sha256(pk).hexdigest()[:16]
assert keyid == f['id']
old = json.loads(git(gd, 'show', git(gd, 'rev-list', '--max-parents=0', 'ledger') + ':entry'))
prev, parent = '0' * 64, None
for seq in range(notes + 1):
    if seq == 0:
        e = {'type': 'init',
             'body': {'key': {'id': keyid, 'public': pk.hex()}, 'repository': old['body']['repository']}}
    else:
        e = {'type': 'note', 'body': {'message': 'forged note %d' % seq}}
    e.update({'prev': prev, 'seq': seq, 'signer': keyid, 'time': '2030-01-01T00:00:%02dZ' % seq, 'v': 1})
    b = canonical(e)
    sig = 'ed25519 %s %s\n' % (keyid, sign(seed, b'resque ledger entry v1\n' + b).hex())
    eb = git(gd, 'hash-object', '-w', '--stdin', data=b)
    sb = git(gd, 'hash-object', '-w', '--stdin', data=sig.encode())
    tree = git(gd, 'mktree', data=('100644 blob %s\tentry\n100644 blob %s\tsig\n' % (eb, sb)).encode())
    parent = git(gd, 'commit-tree', tree, *(['-p', parent] if parent else []), data=b'forged\n')
    prev = hashlib.sha256(b).hexdigest()
git(gd, 'update-ref', 'refs/heads/ledger', parent)
print(prev)
EOF

test_expect_success 'setup: alice signs a ledger; bob and mallory have keys of their own' '
	resque key gen >/dev/null && expect_success resque init proj &&
	for m in one two three; do resque -C proj note -m "$m" >/dev/null || return 1; done &&
	RESQUE_HOME="$BOB" resque key gen >/dev/null && RESQUE_HOME="$MALLORY" resque key gen >/dev/null &&
	ALICE_ID=$(basename "$(ls "$RESQUE_HOME"/keys/*.pub)" .pub) &&
	BOB_ID=$(basename "$(ls "$BOB"/keys/*.pub)" .pub) &&
	MALLORY_ID=$(basename "$(ls "$MALLORY"/keys/*.pub)" .pub) &&
	expect_success resque -C proj key add "$BOB/keys/$BOB_ID.pub" --name bob
'

test_expect_success 'key export prints the default key as a C2SP vkey line' '
	expect_success resque key export && test "$(wc -l <"$OUT")" = 1 &&
	vkey "$RESQUE_HOME/keys/$ALICE_ID.pub" >expect && compare expect "$OUT" &&
	cp "$OUT" alice.vkey &&
	expect_success resque -C proj key export && compare expect "$OUT" &&
	expect_success resque key export "$(echo "$ALICE_ID" | cut -c1-6)" && compare expect "$OUT" &&
	RESQUE_HOME="$MALLORY" resque key export >mallory.vkey &&
	vkey "$MALLORY/keys/$MALLORY_ID.pub" >expect && compare expect mallory.vkey
'

test_expect_success 'key export of a signer recorded only in the ledger' '
	test ! -e "$RESQUE_HOME/keys/$BOB_ID.pub" &&
	expect_success resque -C proj key export "$BOB_ID" &&
	vkey "$BOB/keys/$BOB_ID.pub" >expect && compare expect "$OUT" && cp "$OUT" bob.vkey
'

test_expect_success 'key export of an unknown key: exit 1, nothing printed' '
	repo_state proj >before &&
	expect_error 1 "no key 0123456789 in the key store nor among this ledger" resque -C proj key export 0123456789 &&
	test ! -s "$OUT" &&
	expect_error 1 "no secret key 0123456789 in the key store" resque key export 0123456789 &&
	repo_state proj >after && compare before after
'

test_expect_success 'verify --key with the genesis signer, in each form --key takes' '
	expect_success resque -C proj verify --key "$(cat alice.vkey)" &&
	grep_out "^genesis signed by trusted key $ALICE_ID" &&
	expect_success resque -C proj verify --key alice.vkey &&
	expect_success resque -C proj verify --key "$RESQUE_HOME/keys/$ALICE_ID.pub" &&
	expect_success resque -C proj verify --key "$(sed -n "s/^public //p" "$RESQUE_HOME/keys/$ALICE_ID.pub")" &&
	expect_success resque -C proj verify --key mallory.vkey --key alice.vkey --json &&
	test "$(json_get "$OUT" "d[\"genesis_trusted\"]")" = True &&
	test "$(json_get "$OUT" "d[\"genesis_signer\"]")" = "$ALICE_ID"
'

test_expect_success 'verify --key with a stranger key: exit 3' '
	repo_state proj >before &&
	expect_failure 3 resque -C proj verify --key mallory.vkey &&
	grep_out "^entry 0 \([0-9a-f]{12}\): genesis signed by key $ALICE_ID, which is not among the trusted keys" &&
	expect_failure 3 resque -C proj verify --key bob.vkey --json &&
	test "$(json_get "$OUT" "d[\"genesis_trusted\"]")" = False &&
	test "$(json_get "$OUT" "d[\"problems\"][0][\"seq\"]")" = 0 &&
	repo_state proj >after && compare before after
'

test_expect_success 'verify --keys FILE: one key a line, # comments' '
	{ echo "# who may have created this ledger"; echo; cat mallory.vkey; echo "  $(cat alice.vkey)  "; } >trusted &&
	expect_success resque -C proj verify --keys trusted &&
	{ echo "# only strangers"; cat mallory.vkey bob.vkey; } >strangers &&
	expect_failure 3 resque -C proj verify --keys strangers && grep_out "not among the trusted keys" &&
	expect_success resque -C proj verify --keys strangers --key alice.vkey
'

test_expect_success 'unusable trusted keys: exit 1 naming them' '
	repo_state proj >before &&
	expect_error 1 "--key" resque -C proj verify --key "not a key" && test ! -s "$OUT" &&
	{ cat alice.vkey; echo "# fine"; echo "garbage+1234+AAAA"; } >badkeys &&
	expect_error 1 "badkeys: line 3" resque -C proj verify --keys badkeys &&
	echo "# nothing" >nokeys && expect_error 1 "nokeys: no keys in the file" resque -C proj verify --keys nokeys &&
	expect_error 1 "missing-keys" resque -C proj verify --keys missing-keys &&
	repo_state proj >after && compare before after
'

test_expect_success 'a checkpoint checked with --key: by that key only' '
	resque -C proj checkpoint >cp && expect_success resque -C proj verify --checkpoint cp --key alice.vkey &&
	expect_failure 3 resque -C proj verify --checkpoint cp --key mallory.vkey &&
	grep_out "checkpoint cp is not signed by any of the trusted keys" &&
	grep_out "genesis signed by key $ALICE_ID, which is not among the trusted keys"
'

test_expect_success 'a ledger re-created with another key keeps the id: verifies alone, caught by the memory' '
	expect_success resque -C proj verify &&
	genesis=$(git_ show "$(git_ rev-list --max-parents=0 ledger):entry" | sha256sum | cut -d" " -f1) &&
	rm -rf forged && cp -r proj forged &&
	"$PY" forge.py forged/.resque "$MALLORY/keys/$MALLORY_ID.key" 9 >/dev/null &&
	RESQUE_HOME="$SCRATCH/fresh" expect_success resque -C forged verify &&
	grep_out "^ok: 10 entries verified" &&
	repo_state forged >before && cp "$RESQUE_HOME/known_ledgers" known.before &&
	expect_failure 3 resque -C forged verify &&
	grep_out "^entry 0 \([0-9a-f]{12}\): genesis entry changed: this repository id was first seen with genesis $genesis \(re-created ledger\?\)" &&
	grep_err "verification failed: 1 problem" &&
	expect_failure 3 resque -C forged verify --key mallory.vkey &&
	expect_failure 3 resque -C forged verify --json &&
	test "$(json_get "$OUT" "d[\"pinned_genesis\"]")" = "$genesis" &&
	repo_state forged >after && compare before after && compare known.before "$RESQUE_HOME/known_ledgers"
'

test_expect_success 'after --forget the trusted key still catches it' '
	expect_failure 3 resque -C forged verify --forget --key alice.vkey &&
	grep_out "genesis signed by key $MALLORY_ID, which is not among the trusted keys" &&
	! grep -q "genesis entry changed" "$OUT" &&
	expect_success resque -C forged verify --forget &&
	expect_failure 3 resque -C proj verify && grep_out "genesis entry changed" &&
	expect_success resque -C proj verify --forget --key alice.vkey
'

test_expect_success 'key export --help and the key family list it' '
	expect_success resque key export --help && grep_out "C2SP" &&
	expect_success resque key --help && grep_out "^    export "
'

test_done
