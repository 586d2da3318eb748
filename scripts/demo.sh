#!/bin/sh
# `make demo`: a model's whole life cycle on the bundled data in data/demo
# (synthetic embeddings, weights and images made by scripts/make-demo-data.py),
# in a scratch directory with its own key store: ~/.config/resque is not touched.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RESQUE_BUILD:-$root/build}
PATH="$build:$PATH"
export PATH
demo=$(mktemp -d "${TMPDIR:-/tmp}/resque-demo.XXXXXX")
export RESQUE_HOME="$demo/keys-home"
unset RESQUE_DIR RESQUE_PASSPHRASE RESQUE_EVENTS
cp -r "$root/data/demo" "$demo/project"
cd "$demo/project"

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold="" plain=""; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }
say() { printf '\n# %s\n' "$*"; }

echo "resque demo in $demo/project"
say "A repository for the model, its signing key, and the grid it trains on"
step resque init
step resque config region FR
say "Version 1: trained from scratch on images-v1 (cost measured earlier)"
step resque dataset add images-v1
step resque commit --weights model-v1.safetensors --name v1 --data images-v1 \
	--embeddings emb-v1.npy --labels labels-v1.npy --cost cost-v1.json -m "first model"
say "New, noisier data arrives: how far has the representation moved?"
step resque measure dist --old emb-v1.npy:labels-v1.npy --new emb-new.npy:labels-new.npy --top 3
if resque help plan >/dev/null 2>&1; then
	say "Before retraining: what will the update cost? (no history yet: an uncalibrated prior)"
	step resque plan --from v1 --embeddings emb-new.npy --labels labels-new.npy --shift-family noise
fi
if resque help run >/dev/null 2>&1; then
	say "Retrain, metered (no RAPL here: the estimate, labelled as such)"
	plan=$(resque log --type plan --json | sed -n 's/.*"id": "\([0-9a-f]\{12\}\).*/\1/p' | head -1)
	step resque run ${plan:+--plan "$plan"} -- sh retrain.sh
	actual=$(resque log --type actual --json | sed -n 's/.*"id": "\([0-9a-f]\{12\}\).*/\1/p' | head -1)
	step resque commit --weights model-v2.safetensors --name v2 --parent v1 --data images-new \
		--embeddings emb-new.npy --labels labels-new.npy --actual "$actual" -m "retrained on noisier data"
else
	step resque dataset add images-new
	printf '{"epochs": 6, "energy_kwh": 0.45, "duration_s": 2100, "method": "measured"}\n' >cost-v2.json
	step resque commit --weights model-v2.safetensors --name v2 --parent v1 --data images-new \
		--embeddings emb-new.npy --labels labels-new.npy --cost cost-v2.json -m "retrained on noisier data"
fi
say "What changed between the versions"
step resque diff v1 v2 --params
say "The model's life so far"
step resque log --graph
step resque show v2
say "How far to trust the next plan: the lineage's own history replayed"
step resque plan --backtest --from v2
say "An auditor checks the whole ledger"
step resque verify
say "The lifetime report: forecasts against actuals, totals, and what reuse saved"
step resque report
step resque report --format html -o lifetime.html
step resque report --format json -o lifetime.json
say "The auditor receives lifetime.html and the signer's public key, and checks the report with no repository"
resque key export >signer.pub
step cat signer.pub
(cd "$demo" && step resque audit report project/lifetime.html --key project/signer.pub)
step resque audit report lifetime.json --key signer.pub -C .
say "A signed checkpoint of the ledger, and the proof that v2 is in it"
step resque checkpoint
step resque audit prove v2
say "The ledger is a git branch; plain git can read it"
step git --git-dir=.resque log --oneline ledger
echo
echo "demo finished; the repository is in $demo/project"
echo "the HTML report: $demo/project/lifetime.html"
