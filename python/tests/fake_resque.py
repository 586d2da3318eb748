#!/usr/bin/python3
"""A stand-in for `resque` that follows THE INTERFACE of `run --attach`
(docs/FORMATS.md), for the tracker's unit tests.

It logs its argv and cwd as JSON lines to $FAKE_LOG, says it attached,
waits for SIGTERM/SIGINT or for PID to exit, reads the events file and
prints an actual. $FAKE_MODE: "noattach" (never says it attached),
"fail" (exits 1 with a message before attaching), "exit3" (exits 3 when
stopped), "garbage" (prints something not JSON).
"""
import json
import os
import signal
import sys
import time

mode = os.environ.get("FAKE_MODE", "")
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps({"argv": args, "cwd": os.getcwd()}) + "\n")
if args[:2] != ["run", "--attach"]:
    print("fake resque: only 'run --attach' is faked", file=sys.stderr)
    sys.exit(2)
opts = dict(zip(args[1::2], args[2::2]))
pid = int(opts["--attach"])
if mode == "fail":
    print(f"resque: no process with PID {pid}", file=sys.stderr)
    sys.exit(1)
told = []
signal.signal(signal.SIGTERM, lambda *_: told.append(1))
signal.signal(signal.SIGINT, lambda *_: told.append(1))
if mode != "noattach":
    print("resque: a warning before attaching", file=sys.stderr, flush=True)
    print(f"resque: attached to PID {pid}", file=sys.stderr, flush=True)


def alive(p):
    try:
        os.kill(p, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        with open(f"/proc/{p}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


while not told and alive(pid):
    time.sleep(0.02)
epochs, metrics, status, target = 0, {}, None, None
try:
    with open(opts["--events"]) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "epoch":
                epochs += 1
            elif w[0] == "metric":
                metrics.setdefault(w[1], []).append(float(w[2]))
            elif w[0] == "status":
                status = w[1]
            elif w[0] == "target":
                target = w[1]
except FileNotFoundError:
    pass
if not told:
    status = "failed"
if mode == "exit3":
    print("resque: ledger integrity violation", file=sys.stderr)
    sys.exit(3)
if mode == "garbage":
    print("not json")
    sys.exit(0)
print(json.dumps({"id": "f" * 64, "type": "actual", "energy_kwh": 0.001, "carbon_kg": None,
                  "duration_s": 1.5, "epochs": epochs, "method": "estimated", "inside_p80": None,
                  "status": status or "succeeded", "target": target, "plan": opts.get("--plan"),
                  "name": opts.get("--name"), "body": {"metrics": metrics}}))
