#!/usr/bin/python3
"""Simulated retraining histories from a hierarchical law, for the
forecaster's validation (docs/METHOD.md, "Validation"):

    log(1 + epochs) = A + a_g + (B + b_g) * (R - 0.2) + N(0, (S * (1 + R))^2)

with G shift families (a_g ~ N(0, TAU^2), b_g ~ N(0, (5 TAU)^2)), LEVELS
shift levels and SEEDS repetitions per family, R ~ U(0.02, 0.4), in a
shuffled time order. Runs beyond --budget epochs are recorded as missed
(reached = 0, epochs = the budget) and their true epochs kept in
`true_epochs`. Writes the CSV that tests/helpers/rq-backtest reads.

    scripts/sim-history.py [--seed N] [--families G] [--budget B] > sim.csv
"""
import argparse
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--families", type=int, default=5)
    ap.add_argument("--levels", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--median", type=float, default=12.0, help="median epochs at R = 0.2")
    ap.add_argument("--slope", type=float, default=6.0)
    ap.add_argument("--noise", type=float, default=0.35)
    ap.add_argument("--tau", type=float, default=0.4)
    ap.add_argument("--budget", type=float, default=0, help="0: no budget")
    ap.add_argument("--e0", type=float, default=50)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    fam = [(rng.normal(0, a.tau), rng.normal(0, 5 * a.tau)) for _ in range(a.families)]
    rows = []
    for g in range(a.families):
        for _ in range(a.levels * a.seeds):
            r = rng.uniform(0.02, 0.4)
            z = np.log1p(a.median) + fam[g][0] + (a.slope + fam[g][1]) * (r - 0.2) \
                + rng.normal(0, a.noise * (1 + r))
            rows.append(("f%d" % g, r, max(0, int(round(np.expm1(z))))))
    rng.shuffle(rows)
    out = sys.stdout
    out.write("order,family,index,epochs,e0,reached,true_epochs\n")
    for i, (f, r, e) in enumerate(rows):
        missed = a.budget > 0 and e > a.budget
        out.write("%d,%s,%.6f,%d,%g,%d,%d\n" % (i + 1, f, r, a.budget if missed else e, a.e0,
                                                 0 if missed else 1, e))


if __name__ == "__main__":
    main()
