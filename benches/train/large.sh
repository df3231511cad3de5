#!/usr/bin/env bash
# Peak memory and wall time of `pql train` on a table of millions of labelled rows, beside LightGBM on the
# same rows (read column by column into one float32 numpy array, as a careful notebook would).
#
#   benches/train/large.sh FEATURES.parquet CONFIG [LABELLED_ROWS] [FEATURES]   # defaults 13000000 70
#
# FEATURES.parquet is a table written by `pql features` (e.g. target/bench-out/quality/teamchat/data/
# features.parquet after `benches/quality/run.sh teamchat`) and CONFIG its pql.toml; scale_table.py copies
# its rows (each copy a new set of account ids) to LABELLED_ROWS labelled rows with FEATURES feature
# columns. Each run is timed RUNS times (default 3) with GNU time; target/bench-out/large/results.md gives
# medians of wall time and peak RSS. MODELS (default "logistic boosted"; empty for none) are the `--model` values run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
USAGE="usage: large.sh FEATURES.parquet CONFIG [LABELLED_ROWS] [FEATURES]"
SOURCE="${1:?$USAGE}"
CONFIG="${2:?$USAGE}"
LABELLED="${3:-13000000}"
COUNT="${4:-70}"
RUNS="${RUNS:-3}"
read -r -a MODELS <<<"${MODELS-logistic boosted}"
PQL="${PQL:-$ROOT/target/release/pql}"
OUT="$ROOT/target/bench-out/large"
TABLE="$OUT/features-$LABELLED-$COUNT.parquet"
mkdir -p "$OUT"
[[ -x "$PQL" ]] || { echo "large.sh: no $PQL; run cargo build --release" >&2; exit 2; }
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
peer_python
[[ -f "$TABLE" && "$TABLE" -nt "$SOURCE" ]] ||
  "$PY" "$ROOT/benches/train/scale_table.py" "$SOURCE" "$CONFIG" "$TABLE" \
    --labelled "$LABELLED" --features "$COUNT"

{
  echo "benches/train/large.sh on $(basename "$TABLE") (from $SOURCE), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, medians of $RUNS"
  echo
  echo "| run | wall s | peak RSS MiB | validation ROC AUC (calibrated) |"
  echo "|---|---:|---:|---:|"
} >"$OUT/results.md"
for model in "${MODELS[@]}"; do
  read -r wall peak < <(measure "$OUT" "$RUNS" "$PQL" train --config "$CONFIG" --features "$TABLE" --model "$model" --backtest 0 \
    --out "$OUT/models-$model")
  id="$(awk '$1 == "model" && $3 ~ /^\(/ {print $2; exit}' "$OUT/last.log")"
  auc="$("$PY" -c 'import json, sys; print("%.4f" % json.load(open(sys.argv[1]))["validation"]["roc_auc"])' \
    "$OUT/models-$model/$id/metrics.json")"
  echo "| pql train --model $model --backtest 0 | $wall | $peak | ${auc:--} |" >>"$OUT/results.md"
done
read -r wall peak < <(measure "$OUT" "$RUNS" "$PY" -c '
import sys
import lightgbm as lgb
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
path = sys.argv[1]
labels = pq.read_table(path, columns=["label"]).column("label")
kept = pc.is_valid(labels)
y = pc.filter(labels, kept).to_numpy().astype(np.int8)
names = pq.read_schema(path).names[3:]
x = np.empty((len(y), len(names)), dtype=np.float32)
for j, name in enumerate(names):  # one column at a time: the table is never held whole
    x[:, j] = pc.filter(pq.read_table(path, columns=[name]).column(name), kept).to_numpy()
model = lgb.LGBMClassifier(n_estimators=100, learning_rate=0.05, num_leaves=31, n_jobs=2, verbose=-1)
model.fit(x, y)
' "$TABLE")
echo "| LightGBM 100 trees, one fit on every labelled row (read column by column into float32 numpy) | $wall | $peak | - |" >>"$OUT/results.md"
cat "$OUT/results.md"
