"""Accuracy peers of `pql train` on the same feature table and the same time-based split.

The logistic peer searches L2 strengths as pql does: the grid, then on upwards while its strongest penalty
wins. `peers --solver` chooses scikit-learn's LogisticRegression solver (default lbfgs). On heavy-tailed raw
columns lbfgs needs thousands of iterations for the weak penalties (16 minutes on benches/quality's
teamchat, and no convergence at lambda 0.01), so benches/quality/run.sh passes newton-cholesky: exact
Newton steps with a Cholesky solve, the same optimum where lbfgs converges, in a few iterations.

    python peers_models.py peers  --config DIR/pql.toml --features F.parquet --truth DIR/truth.parquet --out peers.json
    python peers_models.py report --peers peers.json [--pql KIND=METRICS_JSON=WALL_S ...] --out results.json
    python peers_models.py last-day --events DIR/events.parquet

`peers` fits scikit-learn's LogisticRegression and LightGBM with the protocol of `docs/training.md` (test
snapshot T = the latest labelled one; pool = rows with as_of + h <= T; validation = the latest 2 pool
snapshots; fit part = pool rows with as_of + h <= the first validation snapshot; settings by validation log
loss, calibration on validation, refit on the pool), evaluates the `perpetual` booster as a candidate, and
scores the generator's true probabilities (the oracle) on T. `report` adds `pql train`'s backtest result
for T (one per model kind), prints the table and the acceptance checks, and writes everything as JSON.
`last-day` prints the date of the latest event (the `--to` of `pql features`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import tomllib
from datetime import datetime, timezone

import numpy as np

HORIZON_DEFAULT = 30
LAMBDAS = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0]
ISOTONIC_MIN_POSITIVES = 1000
LGB_PARAMS = {
    "objective": "binary",
    "metric": "binary_logloss",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "num_threads": 2,
    "deterministic": True,
    # Without a forced layout LightGBM picks row- or column-wise histograms by timing them, which can
    # change results between runs; deterministic=True is documented to need one of them fixed.
    "force_col_wise": True,
    "seed": 1,
    "verbosity": -1,
}
LGB_MAX_ROUNDS = 2000
LGB_EARLY_STOPPING = 50
PERPETUAL_BUDGETS = [0.5, 1.0]


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------
# Metrics (scikit-learn definitions; the same as crates/train/src/metrics.rs)


def evaluate(y: np.ndarray, p: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y, dtype=np.int8)
    p = np.asarray(p, dtype=np.float64)
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError("probabilities outside [0, 1]")
    n = len(y)
    positives = int(y.sum())
    base_rate = positives / n
    order = np.argsort(-p, kind="stable")  # equal scores keep their input order, as pql does

    def top(share: float) -> tuple[float, float]:
        count = min(max(math.ceil(share * n), 1), n)
        hits = int(y[order[:count]].sum())
        return hits / count, hits / positives

    p5, r5 = top(0.05)
    p10, r10 = top(0.10)
    _, r20 = top(0.20)
    edges = np.linspace(0.0, 1.0, 11)
    bins = np.searchsorted(edges[1:-1], p, side="left")  # calibration_curve's rule: inner edge -> lower bin
    label_sum = np.bincount(bins, weights=y.astype(np.float64), minlength=10)
    prob_sum = np.bincount(bins, weights=p, minlength=10)
    ece = float(np.abs(label_sum - prob_sum).sum() / n)
    return {
        "rows": n,
        "base_rate": base_rate,
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": ece,
        "precision_at_5": p5,
        "precision_at_10": p10,
        "recall_at_5": r5,
        "recall_at_10": r10,
        "recall_at_20": r20,
        "lift_at_5": p5 / base_rate,
        "lift_at_10": p10 / base_rate,
    }


# --------------------------------------------------------------------------------------------------------
# Data and split


def as_datetime(series):
    """as_of as naive datetime64[ns] whether the file holds a date, a naive or a UTC datetime."""
    import pandas as pd

    s = pd.to_datetime(series)
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.astype("datetime64[ns]")


def load(features_path: str, horizon_days: int, validation_snapshots: int) -> dict:
    import pyarrow.parquet as pq

    started = time.perf_counter()
    pf = pq.ParquetFile(features_path)
    schema = pf.schema_arrow
    names = schema.names
    if names[:3] != ["account_id", "as_of", "label"]:
        raise SystemExit(f"{features_path}: expected account_id, as_of, label first; got {names[:3]}")
    feature_names = [n for n in names[3:] if not n.startswith("__index_level_")]
    not_float = [f"{n}: {schema.field(n).type}" for n in feature_names if str(schema.field(n).type) != "double"]
    table = pq.read_table(features_path)
    total_rows = table.num_rows
    keys = table.select(["account_id", "as_of", "label"]).to_pandas()
    labelled = keys["label"].notna().to_numpy()
    keys = keys[labelled].reset_index(drop=True)
    as_of = as_datetime(keys["as_of"]).to_numpy()
    y = keys["label"].to_numpy().astype(np.int8)
    columns = [table.column(n).to_numpy().astype(np.float64, copy=False)[labelled] for n in feature_names]
    del table
    x = np.empty((len(y), len(columns)), dtype=np.float64)
    for j, c in enumerate(columns):
        x[:, j] = c
    del columns
    if not np.all(np.isfinite(x)):
        raise SystemExit(f"{features_path}: non-finite feature values")

    h = np.timedelta64(horizon_days, "D")
    snapshots = np.unique(as_of)
    t = snapshots[-1]
    pool_mask = as_of + h <= t
    pool_snapshots = np.unique(as_of[pool_mask])
    if len(pool_snapshots) < validation_snapshots + 1:
        raise SystemExit(f"only {len(pool_snapshots)} pool snapshots before the test snapshot")
    val_snaps = pool_snapshots[-validation_snapshots:]
    first_val = val_snaps[0]
    val_mask = np.isin(as_of, val_snaps)
    fit_mask = pool_mask & (as_of + h <= first_val)
    test_mask = as_of == t

    def day(v) -> str:
        return str(np.datetime_as_string(v, unit="D"))

    def part(mask, snaps) -> dict:
        return {
            "rows": int(mask.sum()),
            "positives": int(y[mask].sum()),
            "base_rate": float(y[mask].mean()),
            "snapshots": len(snaps),
            "from": day(snaps[0]),
            "to": day(snaps[-1]),
        }

    info = {
        "features_file": os.path.abspath(features_path),
        "total_rows": int(total_rows),
        "labelled_rows": int(len(y)),
        "unlabelled_rows": int(total_rows - len(y)),
        "feature_count": len(feature_names),
        "non_double_features": not_float,
        "as_of_type": str(schema.field("as_of").type),
        "account_id_type": str(schema.field("account_id").type),
        "label_type": str(schema.field("label").type),
        "horizon_days": horizon_days,
        "labelled_snapshots": len(snapshots),
        "test_as_of": day(t),
        "parts": {
            "fit": part(fit_mask, np.unique(as_of[fit_mask])),
            "validation": part(val_mask, val_snaps),
            "pool": part(pool_mask, pool_snapshots),
            "test": part(test_mask, [t]),
        },
        "load_s": time.perf_counter() - started,
    }
    return {
        "info": info,
        "feature_names": feature_names,
        "x": x,
        "y": y,
        "account_id": keys["account_id"].to_numpy(),
        "as_of": as_of,
        "fit": np.flatnonzero(fit_mask),
        "val": np.flatnonzero(val_mask),
        "pool": np.flatnonzero(pool_mask),
        "test": np.flatnonzero(test_mask),
    }


# --------------------------------------------------------------------------------------------------------
# Calibration


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return np.log(p) - np.log1p(-p)


def scored(d: dict, p_val: np.ndarray, p_test: np.ndarray, calibrate) -> dict:
    """Raw and calibrated metrics of a model's validation and test probabilities."""
    y = d["y"]
    return {
        "validation_raw": evaluate(y[d["val"]], p_val),
        "validation_calibrated": evaluate(y[d["val"]], calibrate(p_val)),
        "test_raw": evaluate(y[d["test"]], p_test),
        "test_calibrated": evaluate(y[d["test"]], calibrate(p_test)),
    }


def fit_calibrator(p_val: np.ndarray, y_val: np.ndarray):
    """Isotonic from 1000 validation positives, else Platt (unpenalised logistic on the raw logit)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if int(y_val.sum()) >= ISOTONIC_MIN_POSITIVES:
        iso = IsotonicRegression(out_of_bounds="clip").fit(p_val, y_val)
        return "isotonic", lambda p: np.clip(iso.predict(p), 0.0, 1.0)
    platt = LogisticRegression(penalty=None, solver="lbfgs", tol=1e-10, max_iter=10000)
    platt.fit(logit(p_val).reshape(-1, 1), y_val)
    return "platt", lambda p: platt.predict_proba(logit(p).reshape(-1, 1))[:, 1]


# --------------------------------------------------------------------------------------------------------
# Models


def logistic_procedure(d: dict, solver: str = "lbfgs") -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = d["x"], d["y"]

    def fit(rows, lam):
        scaler = StandardScaler().fit(x[rows])
        model = LogisticRegression(C=1.0 / lam, solver=solver, max_iter=5000, tol=1e-8)
        model.fit(scaler.transform(x[rows]), y[rows])
        return lambda r: model.predict_proba(scaler.transform(x[r]))[:, 1], model

    started = time.perf_counter()
    search, best = [], None
    # Strongest penalty first, so that a tie keeps the stronger one; while the strongest wins, go on
    # upwards ten times stronger (at most 3 steps), as pql's L2 search does.
    candidates = sorted(LAMBDAS, reverse=True)
    extensions = 0
    while candidates:
        lam = candidates.pop(0)
        t0 = time.perf_counter()
        predict, model = fit(d["fit"], lam)
        p_val = predict(d["val"])
        loss = evaluate(y[d["val"]], p_val)["log_loss"]
        search.append({"lambda": lam, "val_log_loss": loss, "iterations": int(model.n_iter_[0]),
                       "fit_s": time.perf_counter() - t0})
        log(f"logistic lambda {lam:g}: validation log loss {loss:.6f}, {model.n_iter_[0]} iterations, "
            f"{time.perf_counter() - t0:.1f} s")
        if best is None or loss < best[1]:
            best = (lam, loss, p_val)
        strongest = max(c["lambda"] for c in search)
        if not candidates and best[0] == strongest and extensions < 3:
            candidates.append(strongest * 10.0)
            extensions += 1
    lam, _, p_val = best
    calibration, calibrate = fit_calibrator(p_val, y[d["val"]])
    t0 = time.perf_counter()
    predict, model = fit(d["pool"], lam)
    refit_s = time.perf_counter() - t0
    p_test = predict(d["test"])
    wall = time.perf_counter() - started
    log(f"logistic: lambda {lam:g}, {calibration}, refit {refit_s:.1f} s, total {wall:.1f} s")
    return {
        "settings": {"lambda": lam, "solver": solver, "search": search, "refit_iterations": int(model.n_iter_[0])},
        "calibration": calibration,
        **scored(d, p_val, p_test, calibrate),
        "wall_s": wall,
        "refit_s": refit_s,
    }


def lightgbm_procedure(d: dict) -> dict:
    import lightgbm as lgb

    x, y = d["x"], d["y"]
    started = time.perf_counter()
    fit_set = lgb.Dataset(x[d["fit"]], y[d["fit"]])
    val_set = lgb.Dataset(x[d["val"]], y[d["val"]], reference=fit_set)
    history: dict = {}
    booster = lgb.train(
        LGB_PARAMS,
        fit_set,
        num_boost_round=LGB_MAX_ROUNDS,
        valid_sets=[val_set],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(LGB_EARLY_STOPPING, verbose=False), lgb.record_evaluation(history)],
    )
    rounds = int(booster.best_iteration)
    grown = len(history["validation"]["binary_logloss"])
    search_s = time.perf_counter() - started
    p_val = booster.predict(x[d["val"]], num_iteration=rounds)
    log(f"lightgbm: best iteration {rounds} of {grown}, "
        f"validation log loss {booster.best_score['validation']['binary_logloss']:.6f}, {search_s:.1f} s")
    calibration, calibrate = fit_calibrator(p_val, y[d["val"]])
    t0 = time.perf_counter()
    refit = lgb.train(LGB_PARAMS, lgb.Dataset(x[d["pool"]], y[d["pool"]]), num_boost_round=rounds)
    refit_s = time.perf_counter() - t0
    p_test = refit.predict(x[d["test"]])
    wall = time.perf_counter() - started
    log(f"lightgbm: {calibration}, refit {refit_s:.1f} s, total {wall:.1f} s")
    return {
        "settings": {"rounds": rounds, "rounds_grown": grown,
                     "params": LGB_PARAMS, "max_rounds": LGB_MAX_ROUNDS, "early_stopping": LGB_EARLY_STOPPING},
        "calibration": calibration,
        **scored(d, p_val, p_test, calibrate),
        "wall_s": wall,
        "search_s": search_s,
        "refit_s": refit_s,
    }


def perpetual_procedure(d: dict, budget: float) -> dict:
    from perpetual import PerpetualBooster

    x, y = d["x"], d["y"]

    def fit(rows):
        model = PerpetualBooster(objective="LogLoss", budget=budget, num_threads=2)
        model.fit(x[rows], y[rows].astype(np.float64))
        return model

    def proba(model, rows):
        p = np.asarray(model.predict_proba(x[rows]))
        return p[:, 1] if p.ndim == 2 else p

    started = time.perf_counter()
    t0 = time.perf_counter()
    model = fit(d["fit"])
    fit_s = time.perf_counter() - t0
    p_val = proba(model, d["val"])
    calibration, calibrate = fit_calibrator(p_val, y[d["val"]])
    t0 = time.perf_counter()
    refit = fit(d["pool"])
    refit_s = time.perf_counter() - t0
    p_test = proba(refit, d["test"])
    wall = time.perf_counter() - started
    # Determinism: a second fit on the fit part must predict the validation rows identically.
    t0 = time.perf_counter()
    again = proba(fit(d["fit"]), d["val"])
    second_fit_s = time.perf_counter() - t0
    identical = bool(np.array_equal(p_val, again))
    max_diff = float(np.max(np.abs(p_val - again)))
    log(f"perpetual budget {budget}: {model.number_of_trees} trees, fit {fit_s:.1f} s, refit {refit_s:.1f} s "
        f"({refit.number_of_trees} trees), identical refit predictions {identical} (max diff {max_diff:.3g})")
    return {
        "settings": {"budget": budget, "trees": int(model.number_of_trees),
                     "refit_trees": int(refit.number_of_trees)},
        "calibration": calibration,
        **scored(d, p_val, p_test, calibrate),
        "wall_s": wall,
        "fit_s": fit_s,
        "refit_s": refit_s,
        "second_fit_s": second_fit_s,
        "deterministic": identical,
        "determinism_max_abs_diff": max_diff,
    }


def oracle(d: dict, truth_path: str) -> dict:
    import pandas as pd

    truth = pd.read_parquet(truth_path)
    truth["as_of"] = as_datetime(truth["as_of"])
    rows = d["test"]
    keys = pd.DataFrame({"account_id": d["account_id"][rows], "as_of": d["as_of"][rows]})
    keys["as_of"] = keys["as_of"].astype("datetime64[ns]")
    truth = truth.astype({"account_id": keys["account_id"].dtype})
    joined = keys.merge(truth[["account_id", "as_of", "probability"]], on=["account_id", "as_of"], how="left",
                        validate="one_to_one")
    missing = int(joined["probability"].isna().sum())
    if missing:
        log(f"oracle: {missing} test rows have no truth probability")
    p = joined["probability"].to_numpy(dtype=np.float64)
    ok = ~np.isnan(p)
    return {
        "truth_rows": int(len(truth)),
        "test_rows_without_truth": missing,
        "test": evaluate(d["y"][rows][ok], p[ok]),
    }


def horizon_of(config: str | None) -> int:
    if not config:
        return HORIZON_DEFAULT
    with open(config, "rb") as f:
        return int(tomllib.load(f).get("label", {}).get("horizon_days", HORIZON_DEFAULT))


def run_peers(args) -> None:
    from importlib.metadata import version

    import lightgbm
    import sklearn

    horizon = args.horizon_days or horizon_of(args.config)
    d = load(args.features, horizon, args.validation_snapshots)
    info = d["info"]
    log(f"{info['total_rows']} rows ({info['labelled_rows']} labelled) x {info['feature_count']} features, "
        f"as_of {info['as_of_type']}, loaded in {info['load_s']:.1f} s")
    for name, p in info["parts"].items():
        log(f"  {name:<10} {p['rows']:>9} rows, base rate {p['base_rate']:.4f}, {p['snapshots']} snapshots "
            f"{p['from']}..{p['to']}")
    models = {}
    if args.truth:
        models["oracle"] = oracle(d, args.truth)
    models["sklearn_logistic"] = logistic_procedure(d, args.solver)
    models["lightgbm"] = lightgbm_procedure(d)
    budgets = [] if args.skip_perpetual else [float(b) for b in args.perpetual_budgets.split(",") if b]
    for b in budgets:
        models[f"perpetual_{b:g}"] = perpetual_procedure(d, b)
    result = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__,
                     "lightgbm": lightgbm.__version__, "perpetual": version("perpetual"), "pandas": version("pandas"),
                     "pyarrow": version("pyarrow")},
        "machine": {"cores": os.cpu_count()},
        "data": info,
        "models": models,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    log(f"wrote {args.out}")


# --------------------------------------------------------------------------------------------------------
# Report

COLUMNS = [("ROC AUC", "roc_auc", 4), ("PR AUC", "pr_auc", 4), ("log loss", "log_loss", 5),
           ("Brier", "brier", 5), ("ECE", "ece", 4), ("lift@10", "lift_at_10", 2),
           ("capture@10", "recall_at_10", 3), ("capture@20", "recall_at_20", 3)]


def pql_result(kind: str, path: str, wall: float, test_as_of: str, pool_rows: int) -> dict:
    with open(path) as f:
        m = json.load(f)
    backtest = m.get("backtest") or []
    entry = next((b for b in backtest if str(b.get("as_of", ""))[:10] == test_as_of), None)
    if entry is None:
        raise SystemExit(f"{path}: no backtest entry as of the test snapshot {test_as_of} "
                         f"(found {[b.get('as_of') for b in backtest]})")
    if entry.get("train_rows") != pool_rows:
        log(f"warning: pql {kind} trained on {entry.get('train_rows')} rows for {test_as_of}, the peers' pool "
            f"has {pool_rows}")
    return {
        "model_id": m.get("model_id"),
        "kind": m.get("kind"),
        "metrics_file": os.path.abspath(path),
        "train_rows": entry.get("train_rows"),
        "test": entry["metrics"],
        "candidates": m.get("candidates"),
        "wall_s": wall,
    }


def run_report(args) -> None:
    with open(args.peers) as f:
        peers = json.load(f)
    data = peers["data"]
    test_as_of = data["test_as_of"]
    pool_rows = data["parts"]["pool"]["rows"]
    pql = {}
    for spec in args.pql or []:
        kind, path, wall = spec.split("=", 2)
        pql[kind] = pql_result(kind, path, float(wall), test_as_of, pool_rows)

    rows = []  # (label, metrics, wall)
    for kind, r in pql.items():
        rows.append((f"pql {kind} ({r['kind']})", r["test"], r["wall_s"]))
    models = peers["models"]
    names = {"sklearn_logistic": "scikit-learn logistic", "lightgbm": "LightGBM"}
    for key, r in models.items():
        if key == "oracle":
            continue
        label = names.get(key, key.replace("perpetual_", "perpetual budget "))
        rows.append((f"{label} raw", r["test_raw"], r["wall_s"]))
        rows.append((f"{label} calibrated ({r['calibration']})", r["test_calibrated"], r["wall_s"]))
    if "oracle" in models:
        rows.append(("oracle (true probability)", models["oracle"]["test"], None))

    titles = ["model"] + [c[0] for c in COLUMNS] + ["wall s"]
    body = [[label] + [f"{m[key]:.{digits}f}" for _, key, digits in COLUMNS]
            + ["-" if wall is None else f"{wall:.1f}"] for label, m, wall in rows]
    widths = [max(len(r[i]) for r in [titles] + body) for i in range(len(titles))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    lines = [line(titles), "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":"
                                          for i, w in enumerate(widths)) + "|"]
    lines += [line(r) for r in body]

    parts = data["parts"]
    out = [
        f"Test snapshot {test_as_of} ({parts['test']['rows']} rows, base rate {parts['test']['base_rate']:.4f}); "
        f"{data['feature_count']} features; horizon {data['horizon_days']} days; "
        f"{peers['machine']['cores']} cores; " + ", ".join(f"{k} {v}" for k, v in peers["versions"].items()),
    ]
    for name in ["fit", "validation", "pool", "test"]:
        p = parts[name]
        out.append(f"  {name:<10} {p['from']}..{p['to']} ({p['snapshots']} snapshots): {p['rows']} rows, "
                   f"{p['positives']} positives, base rate {p['base_rate']:.4f}")
    out.append("")
    out.extend(lines)
    perp = {k: v for k, v in models.items() if k.startswith("perpetual_")}
    if perp:
        out.append("")
        lg = models["lightgbm"]
        out.append(f"LightGBM: {lg['settings']['rounds']} rounds; validation log loss "
                   f"{lg['validation_raw']['log_loss']:.5f}, AUC {lg['validation_raw']['roc_auc']:.4f}; "
                   f"search {lg['search_s']:.1f} s, refit {lg['refit_s']:.1f} s")
        for k, v in perp.items():
            s = v["settings"]
            out.append(f"perpetual budget {s['budget']:g}: {s['trees']} trees (refit {s['refit_trees']}); validation "
                       f"log loss {v['validation_raw']['log_loss']:.5f}, AUC {v['validation_raw']['roc_auc']:.4f}; "
                       f"fit {v['fit_s']:.1f} s, refit {v['refit_s']:.1f} s; two fits identical: "
                       f"{'yes' if v['deterministic'] else 'no (max diff %.3g)' % v['determinism_max_abs_diff']}")

    checks = []
    if pql:
        # The stricter of LightGBM's raw and calibrated AUC (isotonic steps tie scores and may lower it).
        lgb_auc = max(models["lightgbm"]["test_raw"]["roc_auc"], models["lightgbm"]["test_calibrated"]["roc_auc"])
        lgb_loss = models["lightgbm"]["test_calibrated"]["log_loss"]
        best_auc_kind = max(pql, key=lambda k: pql[k]["test"]["roc_auc"])
        best_loss_kind = min(pql, key=lambda k: pql[k]["test"]["log_loss"])
        best_auc = pql[best_auc_kind]["test"]["roc_auc"]
        best_loss = pql[best_loss_kind]["test"]["log_loss"]
        checks.append({"check": "pql best ROC AUC >= LightGBM ROC AUC - 0.005",
                       "value": best_auc, "bound": lgb_auc - 0.005, "model": best_auc_kind,
                       "pass": best_auc >= lgb_auc - 0.005})
        checks.append({"check": "pql best log loss <= LightGBM calibrated log loss x 1.01",
                       "value": best_loss, "bound": lgb_loss * 1.01, "model": best_loss_kind,
                       "pass": best_loss <= lgb_loss * 1.01})
        ece_kind = "auto" if "auto" in pql else best_loss_kind
        ece = pql[ece_kind]["test"]["ece"]
        checks.append({"check": f"pql ECE ({ece_kind}) <= 0.01", "value": ece, "bound": 0.01,
                       "model": ece_kind, "pass": ece <= 0.01})
        out.append("")
        for c in checks:
            out.append(f"{'PASS' if c['pass'] else 'FAIL'}  {c['check']}: {c['value']:.5f} vs {c['bound']:.5f} "
                       f"(pql {c['model']})")
    else:
        out.append("")
        out.append("pql: not run (SKIP_PQL=1 or no `pql train`); checks skipped")
    text = "\n".join(out)
    print(text)
    results = {
        "data": data,
        "versions": peers["versions"],
        "machine": peers["machine"],
        "timings": json.loads(args.timings) if args.timings else {},
        "table": [{"model": label, **{key: m[key] for _, key, _ in COLUMNS},
                   "precision_at_10": m.get("precision_at_10"), "wall_s": wall} for label, m, wall in rows],
        "checks": checks,
        "pql": pql,
        "peers": models,
    }
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")
    if checks and not all(c["pass"] for c in checks):
        sys.exit(1)


def last_day(args) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    column = pq.read_table(args.events, columns=[args.column]).column(args.column)
    latest = pc.max(column).as_py()
    print(latest.date().isoformat() if hasattr(latest, "date") else str(latest)[:10])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("peers", help="fit the peers and the oracle on the test snapshot")
    p.add_argument("--features", required=True)
    p.add_argument("--truth")
    p.add_argument("--config", help="pql.toml, for the label horizon")
    p.add_argument("--horizon-days", type=int)
    p.add_argument("--validation-snapshots", type=int, default=2)
    p.add_argument("--perpetual-budgets", default=",".join(str(b) for b in PERPETUAL_BUDGETS))
    p.add_argument("--skip-perpetual", action="store_true")
    p.add_argument("--solver", default="lbfgs", help="LogisticRegression solver (lbfgs, newton-cholesky, ...)")
    p.add_argument("--out", required=True)
    r = sub.add_parser("report", help="table, checks and results.json")
    r.add_argument("--peers", required=True)
    r.add_argument("--pql", action="append", help="KIND=METRICS_JSON=WALL_SECONDS, repeatable")
    r.add_argument("--timings", help="JSON object of other timings to record")
    r.add_argument("--out", required=True)
    r.add_argument("--markdown")
    l = sub.add_parser("last-day", help="date of the latest event")
    l.add_argument("--events", required=True)
    l.add_argument("--column", default="timestamp")
    args = ap.parse_args()
    {"peers": run_peers, "report": run_report, "last-day": last_day}[args.command](args)


if __name__ == "__main__":
    main()
