#!/usr/bin/python3
"""Independent reference for resque's transparency log (tests t0800, t0810):
RFC 9162 Merkle tree hashes and proofs computed from the ledger's entry
bytes as git holds them, and a C2SP signed-note checkpoint checked field by
field. Uses only the standard library, plus python3-cryptography (Debian)
for the Ed25519 signature when it is installed.

  tlog_ref.py root GITDIR SIZE            base64 root of the first SIZE entries
  tlog_ref.py inclusion GITDIR INDEX SIZE the inclusion proof, resque's text form
  tlog_ref.py consistency GITDIR M N      the consistency proof, resque's text form
  tlog_ref.py all GITDIR DIR              every proof of the ledger into DIR:
                                          inc-I-N (0 <= I < N) and con-M-N
                                          (1 <= M <= N), N up to the size
  tlog_ref.py checkpoint GITDIR NOTE PUB  check a checkpoint note against the
                                          ledger and a resque public key file;
                                          prints "ok SIZE" and "signature:
                                          checked" or "signature: skipped"
"""
import base64
import hashlib
import subprocess
import sys


def entries(gitdir):
    """The entries' exact bytes, oldest first."""
    commits = subprocess.run(["git", "--git-dir=" + gitdir, "rev-list", "--reverse", "--first-parent", "ledger"],
                             check=True, capture_output=True, text=True).stdout.split()
    return [subprocess.run(["git", "--git-dir=" + gitdir, "show", c + ":entry"], check=True,
                           capture_output=True).stdout for c in commits]


def leaf(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def split(n):  # largest power of two smaller than n
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if len(d) == 0:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return leaf(d[0])
    k = split(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def path(m, d):  # RFC 9162 2.1.3.1
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):  # RFC 9162 2.1.4.1
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def b64(h):
    return base64.b64encode(h).decode()


def fail(msg):
    print("tlog_ref: " + msg, file=sys.stderr)
    sys.exit(1)


def check_checkpoint(gitdir, note_path, pub_path):
    import json
    raw = open(note_path, "rb").read()
    text = raw.decode("utf-8")
    body, sep, sigs = text.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        fail("not a signed note")
    lines = body.split("\n")
    if len(lines) != 3:
        fail("body is not origin, size, root: %r" % lines)
    origin, size, root = lines
    d = entries(gitdir)
    genesis = json.loads(d[0])
    if origin != "resque/" + genesis["body"]["repository"]:
        fail("origin %s is not resque/ + the repository id" % origin)
    if str(int(size)) != size or not 0 < int(size) <= len(d):
        fail("bad size " + size)
    if root != b64(mth(d[:int(size)])):
        fail("root %s is not the tree hash %s" % (root, b64(mth(d[:int(size)]))))
    pub = dict(l.split(" ", 1) for l in open(pub_path).read().splitlines() if " " in l)
    pk = bytes.fromhex(pub["public"])
    name = "resque-key-" + hashlib.sha256(pk).hexdigest()[:16]
    sig_lines = sigs[:-1].split("\n")
    if len(sig_lines) != 1 or not sig_lines[0].startswith("\u2014 " + name + " "):
        fail("signature line is not '\u2014 %s ...': %r" % (name, sig_lines))
    blob = base64.b64decode(sig_lines[0].split(" ")[2], validate=True)
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x01" + pk).digest()[:4]
    if len(blob) != 68 or blob[:4] != key_id:
        fail("key id %s is not %s" % (blob[:4].hex(), key_id.hex()))
    print("ok", size)
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        print("signature: skipped (python3-cryptography is not installed)")
        return
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(blob[4:], (body + "\n").encode())
    except Exception:
        fail("the Ed25519 signature does not verify")
    print("signature: checked")


def proof_text(kind, a, n, hashes):
    head = "index" if kind == "inclusion" else "old-size"
    return "resque %s proof v1\n%s %d\nsize %d\n" % (kind, head, a, n) + "".join(b64(h) + "\n" for h in hashes)


def main():
    cmd, gitdir = sys.argv[1], sys.argv[2]
    if cmd == "root":
        print(b64(mth(entries(gitdir)[:int(sys.argv[3])])))
    elif cmd == "inclusion":
        m, n = int(sys.argv[3]), int(sys.argv[4])
        sys.stdout.write(proof_text("inclusion", m, n, path(m, entries(gitdir)[:n])))
    elif cmd == "consistency":
        m, n = int(sys.argv[3]), int(sys.argv[4])
        sys.stdout.write(proof_text("consistency", m, n, subproof(m, entries(gitdir)[:n], True)))
    elif cmd == "all":
        d, out = entries(gitdir), sys.argv[3]
        for n in range(1, len(d) + 1):
            for i in range(n):
                with open("%s/inc-%d-%d" % (out, i, n), "w") as f:
                    f.write(proof_text("inclusion", i, n, path(i, d[:n])))
            for m in range(1, n + 1):
                with open("%s/con-%d-%d" % (out, m, n), "w") as f:
                    f.write(proof_text("consistency", m, n, subproof(m, d[:n], True)))
    elif cmd == "checkpoint":
        check_checkpoint(gitdir, sys.argv[3], sys.argv[4])
    else:
        fail("unknown command " + cmd)


main()
