"""One table over the shapes of benches/quality: pql train against LightGBM and scikit-learn.

    python summarize.py --out results.md --json results.json DIR/teamchat DIR/shop DIR/devapi

Each DIR holds what run.sh wrote for one shape: data/meta.json, data/features.parquet's row and feature
counts (peers.json), results.json (peers_models.py report: pql's backtest entry for the test snapshot and the
peers' test metrics on the same rows and split), pql-<kind>/train.log and wall times. The two checks:

  (a) pql auto ROC AUC >= LightGBM ROC AUC - 0.005 (LightGBM's higher of raw and calibrated, as models.sh);
  (b) |pql logistic ROC AUC - scikit-learn logistic ROC AUC| <= 0.01, and pql logistic's AUC is not 0.5.

Exit status 1 when a check fails for some shape (after writing everything).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone


def load(path):
    with open(path) as f:
        return json.load(f)


def warnings_of(log_path: str) -> list[str]:
    if not os.path.exists(log_path):
        return []
    out = []
    with open(log_path, errors="replace") as f:
        for line in f:
            if re.search(r"\bwarn|\bwarning\b|not converge|chance", line, re.I):
                out.append(line.rstrip())
    return out


def shape_row(d: str) -> dict:
    meta = load(os.path.join(d, "data", "meta.json"))
    res = load(os.path.join(d, "results.json"))
    data = res["data"]
    peers = res["peers"]
    pql = res["pql"]
    lgb = peers["lightgbm"]
    skl = peers["sklearn_logistic"]
    lgb_auc = max(lgb["test_raw"]["roc_auc"], lgb["test_calibrated"]["roc_auc"])
    auto = pql.get("auto")
    logi = pql.get("logistic")
    row = {
        "shape": os.path.basename(os.path.normpath(d)),
        "events": meta["events"],
        "accounts": meta["accounts"],
        "rows": data["total_rows"],
        "labelled_rows": data["labelled_rows"],
        "features": data["feature_count"],
        "test_as_of": data["test_as_of"],
        "test_rows": data["parts"]["test"]["rows"],
        "test_positives": data["parts"]["test"]["positives"],
        "pool_rows": data["parts"]["pool"]["rows"],
        "lightgbm_auc": lgb_auc,
        "lightgbm_auc_raw": lgb["test_raw"]["roc_auc"],
        "lightgbm_log_loss": lgb["test_calibrated"]["log_loss"],
        "lightgbm_rounds": lgb["settings"]["rounds"],
        "lightgbm_calibration": lgb["calibration"],
        "sklearn_auc": skl["test_calibrated"]["roc_auc"],
        "sklearn_auc_raw": skl["test_raw"]["roc_auc"],
        "sklearn_log_loss": skl["test_calibrated"]["log_loss"],
        "sklearn_lambda": skl["settings"]["lambda"],
        "sklearn_calibration": skl["calibration"],
        "lightgbm_wall_s": lgb["wall_s"],
        "sklearn_wall_s": skl["wall_s"],
    }
    for kind, r in (("auto", auto), ("logistic", logi)):
        if r is None:
            row[f"pql_{kind}_auc"] = None
            continue
        row[f"pql_{kind}_auc"] = r["test"]["roc_auc"]
        row[f"pql_{kind}_log_loss"] = r["test"]["log_loss"]
        row[f"pql_{kind}_ece"] = r["test"]["ece"]
        row[f"pql_{kind}_family"] = r["kind"]
        row[f"pql_{kind}_train_rows"] = r["train_rows"]
        row[f"pql_{kind}_wall_s"] = r["wall_s"]
        m = load(r["metrics_file"])
        bt = next(b for b in m["backtest"] if str(b["as_of"])[:10] == data["test_as_of"])
        row[f"pql_{kind}_settings"] = bt.get("settings")
        row[f"pql_{kind}_candidates"] = {k: v.get("roc_auc") for k, v in (m.get("candidates") or {}).items()}
        row[f"pql_{kind}_constant_features"] = m["training"].get("constant_features", [])
        row[f"pql_{kind}_warnings"] = warnings_of(os.path.join(d, f"pql-{kind}", "train.log"))
    row["features_warnings"] = (warnings_of(os.path.join(d, "data", "check.log"))
                                + warnings_of(os.path.join(d, "data", "features.log")))
    a = row["pql_auto_auc"]
    lo = row["pql_logistic_auc"]
    row["check_a"] = a is not None and a >= lgb_auc - 0.005
    row["check_b"] = lo is not None and abs(lo - row["sklearn_auc"]) <= 0.01 and abs(lo - 0.5) > 1e-9
    return row


def fmt(v, digits=4):
    return "-" if v is None else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--out", required=True)
    ap.add_argument("--json")
    ap.add_argument("--command", default="")
    args = ap.parse_args()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
    except Exception:
        commit, dirty = "unknown", ""
    rows = [shape_row(d) for d in args.dirs]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"benches/quality, {now}, commit {commit}{' (work tree has uncommitted changes)' if dirty else ''}"
        + (f"; command: `{args.command}`" if args.command else ""),
        "",
        "| shape | rows (labelled) | features | test rows (pos.) | pql auto AUC | pql logistic AUC | LightGBM AUC "
        "| sklearn logistic AUC | pql auto log loss | pql logistic log loss | LightGBM log loss "
        "| sklearn log loss | (a) auto ≥ LGBM − 0.005 | (b) \\|logistic − sklearn\\| ≤ 0.01 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|",
    ]
    for r in rows:
        auto_fam = r.get("pql_auto_family") or "-"
        lines.append(
            f"| {r['shape']} | {r['rows']} ({r['labelled_rows']}) | {r['features']} | {r['test_rows']} "
            f"({r['test_positives']}) | {fmt(r['pql_auto_auc'])} ({auto_fam}) | {fmt(r['pql_logistic_auc'])} "
            f"| {fmt(r['lightgbm_auc'])} | {fmt(r['sklearn_auc'])} | {fmt(r.get('pql_auto_log_loss'), 5)} "
            f"| {fmt(r.get('pql_logistic_log_loss'), 5)} | {fmt(r['lightgbm_log_loss'], 5)} "
            f"| {fmt(r['sklearn_log_loss'], 5)} | {'PASS' if r['check_a'] else 'FAIL'} "
            f"| {'PASS' if r['check_b'] else 'FAIL'} |")
    lines.append("")
    lines.append("AUC and log loss on the test snapshot (the latest labelled one), pql's calibrated backtest entry "
                 "for it, the peers calibrated on validation (LightGBM: the higher AUC of raw and calibrated).")
    lines.append("")
    for r in rows:
        lines.append(f"**{r['shape']}**: {r['events']} events, {r['accounts']} accounts; test {r['test_as_of']}; "
                     f"pool {r['pool_rows']} rows (pql auto trained on {r.get('pql_auto_train_rows')}, logistic on "
                     f"{r.get('pql_logistic_train_rows')})")
        lines.append(f"- pql auto: {r.get('pql_auto_settings')}, validation AUC by family "
                     f"{r.get('pql_auto_candidates')}, ECE {fmt(r.get('pql_auto_ece'))}, "
                     f"wall {fmt(r.get('pql_auto_wall_s'), 1)} s")
        lines.append(f"- pql logistic: {r.get('pql_logistic_settings')}, ECE {fmt(r.get('pql_logistic_ece'))}, "
                     f"wall {fmt(r.get('pql_logistic_wall_s'), 1)} s")
        lines.append(f"- LightGBM: {r['lightgbm_rounds']} rounds, {r['lightgbm_calibration']}, raw AUC "
                     f"{fmt(r['lightgbm_auc_raw'])}, wall {r['lightgbm_wall_s']:.1f} s; scikit-learn: lambda "
                     f"{r['sklearn_lambda']:g}, {r['sklearn_calibration']}, raw AUC {fmt(r['sklearn_auc_raw'])}, "
                     f"wall {r['sklearn_wall_s']:.1f} s")
        const = r.get("pql_auto_constant_features") or []
        if const:
            lines.append(f"- constant features left out: {', '.join(const)}")
        warn = sorted(set(r.get("features_warnings", []) + r.get("pql_auto_warnings", [])
                          + r.get("pql_logistic_warnings", [])))
        for w in warn:
            lines.append(f"- log: `{w.strip()}`")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"created": now, "commit": commit, "rows": rows}, f, indent=2)
    if not all(r["check_a"] and r["check_b"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
