#!/bin/sh
# The forecasting core against independent references computed at test
# time: Student-t quantiles and CDF against scipy.stats.t, the normal-
# inverse-gamma posterior and predictive against numpy, and the validation
# of issue 6 item 7 (coefficients recovered; 80 % interval coverage).
. "$(dirname "$0")/lib.sh"
test_requires NUMPY SCIPY

test_expect_success 'Student-t quantiles agree with scipy.stats.t.ppf' '
	: >ours &&
	for dof in 0.7 1 2.5 5 30 1000; do
		rq-stats t-ppf $dof 1e-9 0.001 0.025 0.1 0.3 0.5 0.77 0.9 0.975 0.999 >>ours || return 1
	done &&
	"$PY" -c "
import sys
from scipy.stats import t
ours = [float(l) for l in open(\"ours\")]
i = 0
bad = 0
for dof in (0.7, 1, 2.5, 5, 30, 1000):
    for p in (1e-9, 0.001, 0.025, 0.1, 0.3, 0.5, 0.77, 0.9, 0.975, 0.999):
        ref = t.ppf(p, dof)
        if abs(ours[i] - ref) > 1e-8 * max(1, abs(ref)):
            print(\"dof\", dof, \"p\", p, ours[i], \"scipy\", ref); bad += 1
        i += 1
assert i == len(ours) == 60, i
sys.exit(bad)
"
'

test_expect_success 'Student-t CDF agrees with scipy.stats.t.cdf, tails included' '
	: >ours &&
	for dof in 0.5 1 3 12.5 200; do
		rq-stats t-cdf $dof -1e4 -40 -5 -1.3 -0.01 0 0.4 2 7 60 >>ours || return 1
	done &&
	"$PY" -c "
import sys
from scipy.stats import t
ours = [float(l) for l in open(\"ours\")]
i = bad = 0
for dof in (0.5, 1, 3, 12.5, 200):
    for x in (-1e4, -40, -5, -1.3, -0.01, 0, 0.4, 2, 7, 60):
        ref = t.cdf(x, dof)
        tail = min(ref, 1 - ref)
        if abs(ours[i] - ref) > 1e-12 + 1e-9 * tail:
            print(\"dof\", dof, \"t\", x, ours[i], \"scipy\", ref); bad += 1
        i += 1
assert i == 50
sys.exit(bad)
"
'

# The posterior by the textbook formulas (Gelman et al. BDA §14.8):
# Λn = Λ0 + XᵀX, mn = Λn⁻¹(Λ0 m0 + Xᵀy), αn = α0 + n/2,
# βn = β0 + ½(yᵀy + m0ᵀΛ0 m0 − mnᵀΛn mn), predictive t_{2αn}.
cat >nig_ref.py <<'PYEOF'
import sys
import numpy as np
from scipy.stats import t
m0 = np.array([float(v) for v in sys.argv[1:3]])
L0 = np.array([[float(sys.argv[3]), float(sys.argv[4])], [float(sys.argv[4]), float(sys.argv[5])]])
a0, b0, x0 = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
d = np.loadtxt("hist", ndmin=2)
X = np.column_stack([np.ones(len(d)), d[:, 0]]); y = d[:, 1]
Ln = L0 + X.T @ X
mn = np.linalg.solve(Ln, L0 @ m0 + X.T @ y)
an = a0 + len(y) / 2
bn = b0 + 0.5 * (y @ y + m0 @ L0 @ m0 - mn @ Ln @ mn)
V = np.linalg.inv(Ln)
x = np.array([1, x0])
scale = np.sqrt(bn / an * (1 + x @ V @ x))
ours = {}
for line in open("ours"):
    k, *v = line.split(); ours[k] = [float(u) for u in v]
ref = {"m": list(mn), "alpha": [an], "beta": [bn], "pred": [mn @ x, scale, 2 * an],
       "p10": [mn @ x + scale * t.ppf(0.1, 2 * an)], "p90": [mn @ x + scale * t.ppf(0.9, 2 * an)],
       "a95": [mn[0] + s * np.sqrt(bn / an * V[0, 0]) * t.ppf(0.975, 2 * an) for s in (-1, 1)],
       "b95": [mn[1] + s * np.sqrt(bn / an * V[1, 1]) * t.ppf(0.975, 2 * an) for s in (-1, 1)]}
bad = 0
for k, v in ref.items():
    for a, b in zip(ours[k], v):
        if abs(a - b) > 1e-8 * max(1, abs(b)):
            print(k, a, "numpy", b); bad += 1
sys.exit(bad)
PYEOF

test_expect_success 'NIG posterior and predictive agree with numpy (informative prior)' '
	printf "0.05 11\n0.12 19.5\n0.2 24\n0.33 41\n0.41 44.2\n0.47 55\n" >hist &&
	rq-stats nig 2 90 0.5 0.1 0.3 2 40 0.3 <hist >ours &&
	"$PY" nig_ref.py 2 90 0.5 0.1 0.3 2 40 0.3
'

test_expect_success 'flat prior gives the OLS fit and prediction interval (numpy polyfit)' '
	"$PY" -c "
import numpy as np
r = np.random.default_rng(3)
x = r.uniform(0, 1, 25); y = 7 + 30 * x + r.normal(0, 2, 25)
np.savetxt(\"hist\", np.column_stack([x, y]))
" &&
	rq-stats nig 0 0 0 0 0 -1 0 0.6 <hist >ours &&
	"$PY" nig_ref.py 0 0 0 0 0 -1 0 0.6 &&
	"$PY" -c "
import numpy as np
from scipy.stats import t
d = np.loadtxt(\"hist\"); x, y = d[:, 0], d[:, 1]; n = len(x)
b, a = np.polyfit(x, y, 1)
s2 = ((y - a - b * x) ** 2).sum() / (n - 2)
half = t.ppf(0.9, n - 2) * np.sqrt(s2 * (1 + 1 / n + (0.6 - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum()))
o = {l.split()[0]: [float(v) for v in l.split()[1:]] for l in open(\"ours\")}
assert abs(o[\"m\"][0] - a) < 1e-9 and abs(o[\"m\"][1] - b) < 1e-9, (o[\"m\"], a, b)
assert abs(o[\"p90\"][0] - (a + b * 0.6 + half)) < 1e-7 * abs(a + b * 0.6 + half), (o[\"p90\"], a + b * 0.6 + half)
assert o[\"pred\"][2] == n - 2
"
'

test_expect_success 'a known linear law is recovered inside the 95 % intervals' '
	"$PY" -c "
import numpy as np
r = np.random.default_rng(11)
x = r.uniform(0, 0.5, 200); y = 6 + 80 * x + r.normal(0, 4, 200)
np.savetxt(\"hist\", np.column_stack([x, y]))
" &&
	rq-stats nig 0 100 0.01 0 0.0025 1 6.25 0.25 <hist >ours &&
	"$PY" -c "
o = {l.split()[0]: [float(v) for v in l.split()[1:]] for l in open(\"ours\")}
assert o[\"a95\"][0] <= 6 <= o[\"a95\"][1], o[\"a95\"]
assert o[\"b95\"][0] <= 80 <= o[\"b95\"][1], o[\"b95\"]
assert o[\"b95\"][1] - o[\"b95\"][0] < 10, o[\"b95\"]
"
'

# Histories from the hierarchical law of docs/METHOD.md ("Validation"):
# NFAM families of NPTS points, log(1 + epochs) = 2 + u_g + (4 + v_g)·R +
# N(0, SIGMA²), family offsets of spread TAU; BUDGET > 0 censors longer
# runs at BUDGET. 300 trials each; the 80 % interval must hold 70-90 % of
# held-out truths and the 95 % interval at least 90 % of them.
validate_ok() { # nfam npts sigma tau budget seed newfam
	rq-stats validate 300 "$@" >val &&
	cat val &&
	covered=$(sed -n "s/^covered80 //p" val) &&
	covered95=$(sed -n "s/^covered95 //p" val) &&
	[ "$covered" -ge 210 ] && [ "$covered" -le 270 ] && [ "$covered95" -ge 270 ]
}

test_expect_success '80 % intervals cover 70-90 % of held-out truths (partial pooling)' '
	validate_ok 5 2 0.3 0.3 0 1 0 &&
	validate_ok 5 4 0.3 0.3 0 2 0 &&
	validate_ok 3 2 0.5 0.5 0 3 0 &&
	validate_ok 8 10 0.3 0.3 0 8 0
'

test_expect_success 'a new family borrows the lineage line with honest intervals' '
	validate_ok 5 3 0.3 0.3 0 4 1
'

test_expect_success 'runs capped by a budget are censored, and coverage holds' '
	validate_ok 5 4 0.3 0.3 30 5 0 &&
	censored=$(sed -n "s/^censored //p" val) &&
	[ "$censored" -gt 1000 ]
'

test_expect_success 'rq-stats refuses a malformed history with the reason' '
	printf "0.2 1\n0.2 2\n0.2 3\n" >hist &&
	expect_error 1 "posterior is improper" sh -c "rq-stats nig 0 0 0 0 0 -1 0 0.3 <hist"
'

test_done
