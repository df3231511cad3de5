"""Peer scoring for the `pql score` benchmark: the same model, applied the way a notebook would.

Logistic (numpy, from pql's model.json): probability = calibration(sigmoid(x · w / scale + offset)),
tiers from the model's thresholds, rows sorted by probability (ties by account_id), and the three features
with the largest positive contribution w · (x − mean) / scale per row (as feature names; pql writes
phrases). The probabilities are checked against a pql scores file when one is given (1e-9).

Boosted (LightGBM): a LightGBM model of the same shape (pql's tree count, 31 leaves, learning rate 0.05,
20 rows and λ = 1 per leaf, 255 bins) trained on `--train` (a `pql features` table with labels; not
timed), then `predict` (probabilities) and `predict(pred_contrib=True)` (TreeSHAP, as pql's reasons) on
the scoring table, with the same top-3 and sort.

Prints one JSON line per timed step (medians of --repeats) on stdout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

LOGIT_CLIP = 1e-12  # as crates/train/src/calibration.rs


def calibrate(p: np.ndarray, calibration: dict) -> np.ndarray:
    if calibration["method"] == "isotonic":
        return np.interp(p, calibration["raw"], calibration["calibrated"])
    q = np.clip(p, LOGIT_CLIP, 1 - LOGIT_CLIP)
    return 1 / (1 + np.exp(-(calibration["slope"] * np.log(q / (1 - q)) + calibration["intercept"])))


def top3(contributions: np.ndarray, names: np.ndarray) -> list[np.ndarray]:
    """The names of the three largest positive contributions per row (None where fewer are positive)."""
    idx = np.argpartition(-contributions, 3, axis=1)[:, :3]
    vals = np.take_along_axis(contributions, idx, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    out = []
    for k in range(3):
        col = names[idx[:, k]].astype(object)
        col[vals[:, k] <= 0] = None
        out.append(col)
    return out


def finish(ids: np.ndarray, as_of: np.ndarray, p: np.ndarray, contributions: np.ndarray, names, thresholds, model_id):
    order = np.lexsort((ids, -p))
    p_sorted = p[order]
    tier = np.where(p_sorted >= thresholds["pql_threshold"], "hot",
                    np.where(p_sorted >= thresholds["warm_threshold"], "warm", "cold"))
    reasons = top3(contributions[order], names)
    return pd.DataFrame({
        "account_id": ids[order], "as_of": as_of[order], "probability": p_sorted, "tier": tier,
        "is_pql": tier == "hot", "reason_1": reasons[0], "reason_2": reasons[1], "reason_3": reasons[2],
        "model_id": model_id,
    })


def timed(label: str, repeats: int, fn, rows: int) -> object:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    print(json.dumps({"step": label, "rows": rows, "median_s": round(median, 6),
                      "accounts_per_s": round(rows / median)}), flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", required=True, help="scoring table (pql features, one snapshot)")
    ap.add_argument("--model", required=True, help="pql model directory")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train", help="labelled pql features table to train the LightGBM peer on (boosted)")
    ap.add_argument("--check", help="pql scores file whose probabilities must match (logistic)")
    ap.add_argument("--out", help="write the peer's scores here (Parquet)")
    args = ap.parse_args()

    artifact = json.loads((Path(args.model) / "model.json").read_text())
    names = np.array([f["name"] for f in artifact["features"]])
    table = pq.read_table(args.features).to_pandas()
    ids = table["account_id"].to_numpy()
    as_of = table["as_of"].to_numpy()
    rows = len(table)
    thresholds, model_id = artifact["thresholds"], artifact["model_id"]

    if artifact["kind"] == "logistic":
        m = artifact["model"]
        mean = np.array(m["standardizer"]["means"])
        scale = np.array(m["standardizer"]["scales"])
        w = np.array(m["weights"])

        def probabilities():
            x = table[names].to_numpy(dtype=np.float64)
            z = x @ (w / scale) + (m["intercept"] - np.sum(w * mean / scale))
            return x, calibrate(1 / (1 + np.exp(-z)), artifact["calibration"])

        def full():
            x, p = probabilities()
            return finish(ids, as_of, p, (x - mean) / scale * w, names, thresholds, model_id)

        timed("numpy probability", args.repeats, probabilities, rows)
        scores = timed("numpy full (probability, tiers, top-3 reasons, sorted frame)", args.repeats, full, rows)
        if args.check:
            pql = pq.read_table(args.check).to_pandas().set_index("account_id")["probability"]
            ours = scores.set_index("account_id")["probability"]
            diff = float(np.max(np.abs(pql.loc[ours.index].to_numpy() - ours.to_numpy())))
            same_order = list(pql.index) == list(scores["account_id"])
            print(json.dumps({"check": args.check, "max_abs_diff": diff, "same_order": same_order}), flush=True)
            if diff > 1e-9:
                sys.exit(f"probabilities differ from {args.check} by {diff}")
    else:
        import lightgbm as lgb

        if not args.train:
            sys.exit("--train is needed to fit the LightGBM peer of a boosted model")
        train = pq.read_table(args.train).to_pandas()
        train = train[train["label"].notna()]
        params = artifact["settings"]["params"]
        booster = lgb.train(
            {"objective": "binary", "num_leaves": params["max_leaves"], "learning_rate": params["learning_rate"],
             "min_data_in_leaf": params["min_leaf_rows"], "min_sum_hessian_in_leaf": params["min_leaf_hessian"],
             "lambda_l2": params["l2"], "max_bin": params["max_bins"], "verbose": -1, "num_threads": 2},
            lgb.Dataset(train[names].to_numpy(dtype=np.float64), train["label"].to_numpy()),
            num_boost_round=len(artifact["model"]["trees"]),
        )

        def probabilities():
            x = table[names].to_numpy(dtype=np.float64)
            return x, booster.predict(x, num_threads=2)

        def full():
            x, p = probabilities()
            contributions = booster.predict(x, pred_contrib=True, num_threads=2)[:, :-1]
            return finish(ids, as_of, p, contributions, names, thresholds, model_id)

        timed("lightgbm probability", args.repeats, probabilities, rows)
        scores = timed("lightgbm full (probability, TreeSHAP top-3 reasons, sorted frame)", args.repeats, full, rows)
    if args.out:
        scores.to_parquet(args.out)


if __name__ == "__main__":
    main()
