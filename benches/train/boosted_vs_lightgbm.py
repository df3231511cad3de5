"""Times LightGBM on the matrix that `fit_boosted` wrote, with pql's settings (binary log loss, 200 trees,
31 leaves, learning rate 0.05, 20 rows and 1e-3 hessian per leaf, L2 1, 255 bins, 2 threads), Dataset
construction (binning) included as in pql's fit, and reports the training AUC.

python boosted_vs_lightgbm.py OUT_PREFIX ROWS COLS
"""
import sys
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

prefix, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.fromfile(prefix + ".x.f64", dtype="<f8").reshape(n, d)
y = np.fromfile(prefix + ".y.u8", dtype=np.uint8)
params = {
    "objective": "binary",
    "num_leaves": 31,
    "learning_rate": 0.05,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "num_threads": 2,
    "deterministic": True,
    "verbose": -1,
}
times = []
for _ in range(3):
    started = time.perf_counter()
    model = lgb.train(params, lgb.Dataset(x, label=y, params=params), num_boost_round=200)
    times.append(time.perf_counter() - started)
times.sort()
auc = roc_auc_score(y, model.predict(x))
print(
    f"LightGBM {n}x{d}: median fit {times[1]:.3f} s over 3 runs, {model.num_trees()} trees, "
    f"base rate {y.mean():.4f}, training AUC {auc:.4f}"
)
