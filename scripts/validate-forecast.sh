#!/bin/sh
# The forecaster's validation table of docs/METHOD.md ("Validation"): the
# backtest of resque's forecaster, of the one before issue 14, and of the
# simple baselines, on the project's retraining ground truth
# (data/groundtruth/retrain.csv, scripts/gen-groundtruth.py) and on
# simulated hierarchical histories (scripts/sim-history.py), each update
# forecast from the ones before it. Needs a build with its test helpers
# (make all build/helpers/rq-backtest) and Debian's python3-numpy.
#   RESQUE_BUILD   the build directory (default: build)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bt=${RESQUE_BUILD:-$root/build}/helpers/rq-backtest
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$bt" ] || { echo "validate-forecast: $bt not built (make all $bt)" >&2; exit 2; }

row() { # label args...
	label=$1 && shift
	"$bt" "$@" | while read -r m _ n _ mape _ c80 _ c95; do
		printf "| %s | %s | %s | %s %% | %s | %s |\n" "$label" "$m" "$n" "$mape" "$c80" "$c95"
	done
}

for s in 1 2 3 4 5 6; do
	"$py" "$root/scripts/sim-history.py" --seed "$s" >"$tmp/sim$s.csv"
	"$py" "$root/scripts/sim-history.py" --seed "$s" --median 20 --budget 30 >"$tmp/cap$s.csv"
done
echo "| data | method | forecasts | median APE | inside 80 % | inside 95 % |"
echo "| --- | --- | --- | --- | --- | --- |"
gt=$root/data/groundtruth/retrain.csv
for ds in digits breast_cancer; do
	row "ground truth, $ds" --common 1 --dataset "$ds" "$gt"
	row "ground truth, $ds (identity scale)" --common 1 --dataset "$ds" --method resque --scale identity "$gt"
done
row "simulated, 6 lineages" --common 1 "$tmp"/sim?.csv
row "simulated, 6 lineages (identity scale)" --common 1 --method resque --scale identity "$tmp"/sim?.csv
row "simulated with a budget, 6 lineages" --common 1 "$tmp"/cap?.csv
