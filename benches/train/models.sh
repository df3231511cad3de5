#!/usr/bin/env bash
# Accuracy of `pql train` against scikit-learn's LogisticRegression and LightGBM (and the `perpetual` booster
# as a candidate) on the same feature table and the same time-based split; see README.md.
#
#   benches/train/models.sh [ACCOUNTS] [SEED]      # defaults 200000 1
#   SKIP_PQL=1 benches/train/models.sh             # peers and oracle only
#
# Environment: SKIP_PQL (1: no `pql train`), SKIP_BUILD (1: use the existing binary), SKIP_PERPETUAL (1),
# REUSE_PEERS (1: keep peers.json when it is newer than the features), PQL (the binary, default
# target/release/pql), FROM (first snapshot, default 2025-01-06, the generator's start).
# Outputs in target/bench-out/models/: data/ (generated data and features.parquet), pql-<kind>/ (models and
# logs), peers.json, results.json (everything) and results.md (the printed table).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/target/bench-venv"
OUT="$ROOT/target/bench-out/models"
DATA="$OUT/data"
PQL="${PQL:-$ROOT/target/release/pql}"
ACCOUNTS="${1:-200000}"
SEED="${2:-1}"
FROM="${FROM:-2025-01-06}"
SKIP_PQL="${SKIP_PQL:-0}"
SKIP_BUILD="${SKIP_BUILD:-0}"
SKIP_PERPETUAL="${SKIP_PERPETUAL:-0}"
REUSE_PEERS="${REUSE_PEERS:-0}"
KINDS=(auto logistic boosted)

log() { printf '[models %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'models.sh: %s\n' "$*" >&2; exit 2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

[[ "$ACCOUNTS" =~ ^[0-9]+$ && "$SEED" =~ ^[0-9]+$ ]] || die "usage: benches/train/models.sh [ACCOUNTS] [SEED]"

# (a) The pql binary.
if [[ "$SKIP_BUILD" != 1 ]]; then
  log "cargo build --release"
  cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
fi
[[ -x "$PQL" ]] || die "no pql binary at $PQL (cargo build --release)"
if [[ "$SKIP_PQL" != 1 ]] && ! "$PQL" train --help >/dev/null 2>&1; then
  die "$PQL has no \`train\` command (\`$PQL train --help\` fails); rebuild it once \`pql train\` exists, or run the peers alone with SKIP_PQL=1"
fi

# (b) Python environment with the pinned peers.
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2
PY="$VENV/bin/python"
PEERS="$HERE/peers_models.py"

# (c) Data, reused when generated with the same arguments.
stamp="accounts=$ACCOUNTS seed=$SEED"
if [[ -f "$DATA/generated" && "$(cat "$DATA/generated")" == "$stamp" && -f "$DATA/pql.toml" && -f "$DATA/truth.parquet" ]]; then
  log "data ($stamp) present in $DATA"
else
  log "generating $stamp into $DATA"
  rm -rf "$DATA"
  mkdir -p "$OUT"
  t0="$(now)"
  "$PQL" generate --accounts "$ACCOUNTS" --seed "$SEED" --out "$DATA" >&2
  echo "$(since "$t0")" >"$DATA/generate.seconds"
  echo "$stamp" >"$DATA/generated"
fi
CONFIG="$DATA/pql.toml"
TRUTH="$DATA/truth.parquet"
FEATURES="$DATA/features.parquet"

# (d) Features over the whole history, recomputed when the binary or the data is newer.
TO="${TO:-$("$PY" "$PEERS" last-day --events "$DATA/events.parquet")}"
fstamp="from=$FROM to=$TO"
if [[ -f "$FEATURES" && -f "$DATA/features.args" && "$(cat "$DATA/features.args")" == "$fstamp" \
      && "$FEATURES" -nt "$PQL" && "$FEATURES" -nt "$DATA/generated" ]]; then
  log "features ($fstamp) present in $FEATURES"
else
  log "pql features $fstamp"
  rm -f "$FEATURES" "$DATA/features.args"
  t0="$(now)"
  "$PQL" features --config "$CONFIG" --from "$FROM" --to "$TO" --out "$FEATURES" 2>&1 | tee "$DATA/features.log" >&2
  echo "$(since "$t0")" >"$DATA/features.seconds"
  echo "$fstamp" >"$DATA/features.args"
fi
log "features: $(cat "$DATA/features.seconds") s"

# (e) pql train, one run per model kind, each timed from start to exit.
pql_args=()
if [[ "$SKIP_PQL" != 1 ]]; then
  for kind in "${KINDS[@]}"; do
    dir="$OUT/pql-$kind"
    rm -rf "$dir"
    mkdir -p "$dir"
    log "pql train --model $kind --backtest 1"
    t0="$(now)"
    if ! "$PQL" train --config "$CONFIG" --features "$FEATURES" --model "$kind" --backtest 1 \
         --out "$dir/models" >"$dir/train.log" 2>&1; then
      tail -n 20 "$dir/train.log" >&2
      die "pql train --model $kind failed (log: $dir/train.log)"
    fi
    wall="$(since "$t0")"
    shopt -s nullglob
    found=("$dir"/models/*/metrics.json)
    shopt -u nullglob
    [[ ${#found[@]} -eq 1 ]] || die "expected one $dir/models/<model_id>/metrics.json, found ${#found[@]}"
    log "pql train --model $kind: $wall s, ${found[0]}"
    pql_args+=(--pql "$kind=${found[0]}=$wall")
  done
fi

# (f) Peers and oracle on the same table.
if [[ "$REUSE_PEERS" == 1 && -f "$OUT/peers.json" && "$OUT/peers.json" -nt "$FEATURES" ]]; then
  log "reusing $OUT/peers.json"
else
  perpetual_args=()
  [[ "$SKIP_PERPETUAL" == 1 ]] && perpetual_args=(--skip-perpetual)
  "$PY" "$PEERS" peers --config "$CONFIG" --features "$FEATURES" --truth "$TRUTH" \
    "${perpetual_args[@]}" --out "$OUT/peers.json"
fi

# (g) Table, checks (PASS/FAIL; exit 1 when one fails) and results.json.
timings="{\"generate_s\": $(cat "$DATA/generate.seconds" 2>/dev/null || echo null), \"features_s\": $(cat "$DATA/features.seconds")}"
"$PY" "$PEERS" report --peers "$OUT/peers.json" "${pql_args[@]}" --timings "$timings" \
  --out "$OUT/results.json" --markdown "$OUT/results.md"
