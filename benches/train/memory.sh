#!/usr/bin/env bash
# Peak memory and wall time of `pql train` on one feature table, with and without thinned negatives, beside
# LightGBM trained on the same labelled rows (the table read with pandas, as a notebook would).
#
#   benches/train/memory.sh FEATURES.parquet CONFIG [RATES...]     # default rates: 1 0.1
#
# FEATURES is a table written by `pql features` (e.g. target/bench-out/quality/teamchat/data/features.parquet
# after benches/quality/run.sh), CONFIG its pql.toml. Each run is timed 3 times with GNU time; the table
# in target/bench-out/memory/results.md gives medians of wall time and peak RSS, and pql's backtest ROC AUC
# on the latest labelled snapshot.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FEATURES="${1:?usage: memory.sh FEATURES.parquet CONFIG [RATES...]}"
CONFIG="${2:?usage: memory.sh FEATURES.parquet CONFIG [RATES...]}"
shift 2
RATES=("$@")
RUNS=3
[[ ${#RATES[@]} -gt 0 ]] || RATES=(1 0.1)
PQL="${PQL:-$ROOT/target/release/pql}"
OUT="$ROOT/target/bench-out/memory"
mkdir -p "$OUT"
[[ -x "$PQL" ]] || { echo "memory.sh: no $PQL; run cargo build --release" >&2; exit 2; }
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
peer_python

{
  echo "benches/train/memory.sh on $(basename "$FEATURES"), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores"
  echo
  echo "| run | wall s (median of 3) | peak RSS MB (median of 3) | backtest ROC AUC |"
  echo "|---|---:|---:|---:|"
} >"$OUT/results.md"
for rate in "${RATES[@]}"; do
  read -r wall peak < <(measure "$OUT" "$RUNS" "$PQL" train --config "$CONFIG" --features "$FEATURES" --model auto --backtest 1 \
    --negative-rate "$rate" --out "$OUT/models-$rate")
  auc="$(awk '$1 ~ /^[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]$/ && NF >= 8 {a = $4} END {print a}' "$OUT/last.log")"
  echo "| pql train --model auto --backtest 1 --negative-rate $rate | $wall | $peak | $auc |" >>"$OUT/results.md"
done
read -r wall peak < <(measure "$OUT" "$RUNS" "$PY" -c '
import sys
import lightgbm as lgb
import pandas as pd
frame = pd.read_parquet(sys.argv[1])
frame = frame[frame["label"].notna()]
x = frame.drop(columns=["account_id", "as_of", "label"])
model = lgb.LGBMClassifier(n_estimators=100, learning_rate=0.05, num_leaves=31, n_jobs=2, verbose=-1)
model.fit(x, frame["label"].astype(int))
' "$FEATURES")
echo "| LightGBM 100 trees on the labelled rows (pandas read) | $wall | $peak | - |" >>"$OUT/results.md"
cat "$OUT/results.md"
