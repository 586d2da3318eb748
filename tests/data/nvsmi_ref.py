"""Independent reference for nvidia-smi power logs: the trapezoid of
power.draw over the timestamps, with Python's csv/datetime and numpy,
skipping an incomplete (cut short) line.

    nvsmi_ref.py FILE   prints: joules kwh rows duration_s
"""
import csv
import datetime
import sys

import numpy as np

rows = list(csv.reader(open(sys.argv[1], newline=""), skipinitialspace=True))
head = [h.strip() for h in rows[0]]
ti, pi = head.index("timestamp"), head.index("power.draw [W]")
t, p = [], []
for r in rows[1:]:
    if len(r) != len(head):
        continue
    t.append(datetime.datetime.strptime(r[ti], "%Y/%m/%d %H:%M:%S.%f").timestamp())
    p.append(float(r[pi].split()[0]))
t, p = np.array(t), np.array(p)
trap = np.trapezoid if hasattr(np, "trapezoid") else np.trapz
joules = float(trap(p, t))
print(repr(joules), repr(joules / 3.6e6), len(t), repr(float(t[-1] - t[0])))
