#!/bin/sh
# `make demo`: a model's life cycle on bundled data, in a scratch directory
# with its own key store (your ~/.config/resque is not touched).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RESQUE_BUILD:-$root/build}
PATH="$build:$PATH"
export PATH
demo=$(mktemp -d "${TMPDIR:-/tmp}/resque-demo.XXXXXX")
export RESQUE_HOME="$demo/keys-home"
unset RESQUE_DIR RESQUE_PASSPHRASE
cd "$demo"

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }

echo "resque demo in $demo"
mkdir project && cd project
step resque init
step resque note -m "project started: image classifier, ResNet-18 on CIFAR-like data"
step resque key list
step resque log
step resque verify
echo
echo "The ledger is a git branch; plain git can read it:"
step git --git-dir=.resque log --oneline ledger
echo
echo "demo finished; the repository is in $demo/project"
