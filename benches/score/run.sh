#!/usr/bin/env bash
# Benchmarks `pql score` (see README.md in this folder):
#   1. throughput once features exist: crates/score/examples/score_throughput.rs against peer_score.py
#      (numpy for the logistic model, LightGBM for boosted trees) on the same feature table;
#   2. end to end from raw events: `pql score --config --as-of` for 100k and 1M accounts, against the DuckDB
#      feature peer (benches/features/peer_duckdb.py) followed by the numpy scorer, for the logistic model.
#
# Environment: SKIP_BUILD=1 (use the existing release build), REPEATS (3), AS_OF (2025-07-07).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/target/bench-venv"
DATA="$ROOT/target/bench-data"
OUT="$ROOT/target/bench-out/score"
PQL="$ROOT/target/release/pql"
THROUGHPUT="$ROOT/target/release/examples/score_throughput"
REPEATS="${REPEATS:-3}"
AS_OF="${AS_OF:-2025-07-07}"
RESULTS="$OUT/results.md"

log() { printf '[bench] %s\n' "$*" >&2; }
wall() { /usr/bin/time -f '%e %M' -o "$OUT/time.txt" "$@" >"$OUT/last.log" 2>&1 || { cat "$OUT/last.log" >&2; exit 1; }; cat "$OUT/time.txt"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

[[ -x /usr/bin/time ]] || { echo "GNU time is needed at /usr/bin/time" >&2; exit 2; }
mkdir -p "$OUT" "$DATA"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$ROOT" && cargo build --release --bin pql && cargo build --release -p pql-score --example score_throughput)
fi
if [[ ! -x "$VENV/bin/python" ]]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$ROOT/benches/train/requirements.txt" -r "$ROOT/benches/features/requirements.txt"
PY="$VENV/bin/python"

# Data: 100k and 1M accounts, 26 weeks each (about 12 and 120 million events).
for spec in 100k:100000:7 1m:1000000:8; do
  IFS=: read -r size accounts seed <<<"$spec"
  if [[ ! -f "$DATA/score-$size/pql.toml" ]]; then
    log "generating $size accounts"
    "$PQL" generate --accounts "$accounts" --seed "$seed" --out "$DATA/score-$size" >/dev/null
  fi
done

# Models trained on the 100k history (each family), and the labelled table the LightGBM peer trains on.
declare -A MODEL
for kind in logistic boosted; do
  log "training $kind"
  id=$("$PQL" train --config "$DATA/score-100k/pql.toml" --model "$kind" --backtest 0 --out "$OUT/models" \
    | sed -n 's/^model \([0-9a-f]*\) .*/\1/p')
  MODEL[$kind]="$OUT/models/$id"
done
[[ -f "$OUT/train-100k.parquet" ]] || "$PQL" -q features --config "$DATA/score-100k/pql.toml" \
  --from 2025-01-06 --to "$AS_OF" --out "$OUT/train-100k.parquet"

{
  echo "# pql score benchmark ($(date -u +%F), $(nproc) cores, as of $AS_OF, medians of $REPEATS)"
  echo
  echo "## Throughput once features exist (one snapshot, in memory: logistic on the 1M-account history, boosted on the 100k one)"
  echo
  echo "| model | tool | step | rows | median s | accounts/s |"
  echo "|---|---|---|---:|---:|---:|"
} >"$RESULTS"

# 1. Throughput on one snapshot table (with the models' categorical levels). TreeSHAP is costly, so the
#    boosted model runs on the smaller table.
declare -A TABLE=([logistic]="$OUT/features-1m.parquet" [boosted]="$OUT/features-100k.parquet")
for spec in 1m:logistic 100k:boosted; do
  IFS=: read -r size kind <<<"$spec"
  [[ -f "${TABLE[$kind]}" ]] || "$PQL" -q features --config "$DATA/score-$size/pql.toml" --as-of "$AS_OF" \
    --model "${MODEL[logistic]}" --out "${TABLE[$kind]}"
done
for kind in logistic boosted; do
  log "throughput: pql $kind"
  "$THROUGHPUT" "${MODEL[$kind]}" "${TABLE[$kind]}" "$REPEATS" | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read())
print("| {} | pql | probability | {} | {:.3f} | {:,} |".format(r["kind"], r["rows"], r["probability_s"], r["probability_accounts_per_s"]))
print("| {} | pql | full (probability, tiers, 3 reasons in words, sorted frame) | {} | {:.3f} | {:,} |".format(r["kind"], r["rows"], r["score_s"], r["score_accounts_per_s"]))
' >>"$RESULTS"
  log "throughput: peer $kind"
  "$PY" "$HERE/peer_score.py" --features "${TABLE[$kind]}" --model "${MODEL[$kind]}" --repeats "$REPEATS" \
    --train "$OUT/train-100k.parquet" | "$PY" -c '
import json, sys
kind = sys.argv[1]
for line in sys.stdin:
    r = json.loads(line)
    tool, _, step = r["step"].partition(" ")
    print("| {} | {} | {} | {} | {:.3f} | {:,} |".format(kind, tool, step, r["rows"], r["median_s"], r["accounts_per_s"]))
' "$kind" >>"$RESULTS"
done

# 2. End to end from raw events.
{
  echo
  echo "## End to end from raw events (wall seconds, peak RSS)"
  echo
  echo "| accounts | model | tool | median wall s | peak RSS MiB | scored |"
  echo "|---|---|---|---:|---:|---:|"
} >>"$RESULTS"
for size in 100k 1m; do
  config="$DATA/score-$size/pql.toml"
  for kind in logistic boosted; do
    runs=$REPEATS; [[ $size == 1m && $kind == boosted ]] && runs=1
    log "end to end: pql $kind, $size ($runs runs)"
    : >"$OUT/walls.txt"; rss=0
    for _ in $(seq "$runs"); do
      read -r seconds kb < <(wall "$PQL" score --config "$config" --model "${MODEL[$kind]}" --as-of "$AS_OF" \
        --out "$OUT/scores-$size-$kind.parquet")
      echo "$seconds" >>"$OUT/walls.txt"; (( kb > rss )) && rss=$kb
    done
    scored=$(sed -n 's/^scored \([0-9]*\) eligible.*/\1/p' "$OUT/last.log")
    echo "| $size | $kind | pql score | $(median <"$OUT/walls.txt") | $((rss / 1024)) | $scored |" >>"$RESULTS"
  done
  log "end to end: DuckDB features + numpy scoring, $size"
  : >"$OUT/walls.txt"; rss=0
  for _ in $(seq "$REPEATS"); do
    read -r s1 kb1 < <(wall "$PY" "$ROOT/benches/features/peer_duckdb.py" --config "$config" --as-of "$AS_OF" \
      --levels-from "${MODEL[logistic]}/model.json" --out "$OUT/peer-features-$size.parquet")
    read -r s2 kb2 < <(wall "$PY" "$HERE/peer_score.py" --features "$OUT/peer-features-$size.parquet" \
      --model "${MODEL[logistic]}" --repeats 1 --check "$OUT/scores-$size-logistic.parquet" \
      --out "$OUT/peer-scores-$size.parquet")
    echo "$s1 $s2" | awk '{print $1 + $2}' >>"$OUT/walls.txt"
    (( kb1 > rss )) && rss=$kb1; (( kb2 > rss )) && rss=$kb2
  done
  grep '"check"' "$OUT/last.log" >&2 || true
  echo "| $size | logistic | DuckDB features + numpy scoring | $(median <"$OUT/walls.txt") | $((rss / 1024)) | |" >>"$RESULTS"
done
cat "$RESULTS"
