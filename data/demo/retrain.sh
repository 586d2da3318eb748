#!/bin/sh
# A stand-in for a training script: five "epochs" of CPU work, each reported
# to resque with `resque mark` (a real script would append to the file named
# by $RESQUE_EVENTS; see docs/PYTORCH.md).
set -eu
for epoch in 1 2 3 4 5; do
	head -c 40000000 /dev/zero | sha256sum >/dev/null
	resque mark epoch "$epoch"
	resque mark metric grad_norm "$(echo "scale=3; 2.5 / $epoch" | bc 2>/dev/null || echo 1)"
done
echo "training finished"
