#!/usr/bin/env bash
# Model quality of `pql train` against LightGBM and scikit-learn on three histories pql did not write
# (generate.py: teamchat, shop, devapi); see README.md.
#
#   benches/quality/run.sh [SHAPE...]          # default: teamchat shop devapi
#   benches/quality/run.sh teamchat shop devapi shop-amount
#
# shop-amount is shop's data with pql-amount.toml, which maps the purchases' `amount` column as the event
# value (per-event value features); shop ignores it.
#
# Environment: QUALITY_OUT (output folder, default target/bench-out/quality), PQL (the binary, default target/release/pql; copied to OUT/pql-bin before the run),
# SEED (1), ACCOUNTS_<shape> (e.g. ACCOUNTS_teamchat=4000; default: generate.py's size), REUSE_PEERS (1: keep
# a shape's peers.json when it is newer than its features), KINDS ("auto logistic"), SOLVER (scikit-learn's
# LogisticRegression solver, default newton-cholesky; lbfgs as benches/train is much slower on these data).
# Outputs in target/bench-out/quality/: <shape>/data/ (generated data, meta.json, features.parquet),
# <shape>/pql-<kind>/ (models, train.log), <shape>/peers.json, <shape>/results.json and report.md
# (peers_models.py report), results.md and results.json (the table over the shapes). Exit status 1 when a
# check fails, 2 on an error.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${QUALITY_OUT:-$ROOT/target/bench-out/quality}"
VENV="$ROOT/target/bench-venv-quality"
PQL="${PQL:-$ROOT/target/release/pql}"
SEED="${SEED:-1}"
REUSE_PEERS="${REUSE_PEERS:-0}"
read -r -a KINDS <<<"${KINDS:-auto logistic}"
PEERS="$ROOT/benches/train/peers_models.py"
SHAPES=("$@")
[[ ${#SHAPES[@]} -gt 0 ]] || SHAPES=(teamchat shop devapi)

log() { printf '[quality %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'quality/run.sh: %s\n' "$*" >&2; exit 2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

for s in "${SHAPES[@]}"; do
  [[ "$s" =~ ^(teamchat|shop|devapi|shop-amount)$ ]] || die "unknown shape $s (teamchat, shop, devapi, shop-amount)"
done
mkdir -p "$OUT"
started="$(now)"

# (a) The pql binary: wait for it (a build may be under way), then copy it so a rebuild cannot change it mid-run.
waited=0
while [[ ! -x "$PQL" ]]; do
  (( waited < 2400 )) || die "no pql binary at $PQL after 40 minutes"
  log "no binary at $PQL yet; waiting 60 s"
  sleep 60
  waited=$((waited + 60))
done
BIN="$OUT/pql-bin"
cp "$PQL" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
"$BIN" train --help >/dev/null 2>&1 || die "$PQL has no \`train\` command"
BIN_SHA="$(sha256sum "$BIN" | cut -c1-16)"
log "pql binary $PQL ($("$BIN" --version), sha256 $BIN_SHA) copied to $BIN"

# (b) Python environment with the pinned peers.
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2
PY="$VENV/bin/python"
GEN_SHA="$(sha256sum "$HERE/generate.py" | cut -c1-16)"

failed=0
dirs=()
for shape in "${SHAPES[@]}"; do
  SD="$OUT/$shape"
  gen="$shape"
  config_name=pql.toml
  if [[ "$shape" == shop-amount ]]; then gen=shop; config_name=pql-amount.toml; fi
  DATA="$OUT/$gen/data"
  mkdir -p "$SD" "$SD/data"
  var="ACCOUNTS_$gen"
  accounts="${!var:-}"
  acc_args=()
  [[ -n "$accounts" ]] && acc_args=(--accounts "$accounts")

  # (c) Data, reused when generated with the same arguments and generator.
  stamp="shape=$gen accounts=${accounts:-default} seed=$SEED generator=$GEN_SHA"
  if [[ -f "$DATA/generated" && "$(cat "$DATA/generated")" == "$stamp" && -f "$DATA/meta.json" ]]; then
    log "$shape: data ($stamp) present in $DATA"
  else
    log "$gen: generating ($stamp) into $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    t0="$(now)"
    "$PY" "$HERE/generate.py" "$gen" "${acc_args[@]}" --seed "$SEED" --out "$DATA" >&2
    echo "$(since "$t0")" >"$DATA/generate.seconds"
    echo "$stamp" >"$DATA/generated"
  fi
  CONFIG="$DATA/$config_name"
  FD="$SD/data"  # this shape's features and logs (for shop-amount beside, not inside, shop's data)
  FEATURES="$FD/features.parquet"
  [[ "$FD" == "$DATA" ]] || cp "$DATA/meta.json" "$FD/meta.json"
  FROM="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['first_monday'])" "$DATA/meta.json")"
  TO="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['last_event_day'])" "$DATA/meta.json")"

  # (d) pql check (its report goes to the log) and the features of every weekly snapshot.
  "$BIN" check --config "$CONFIG" >"$FD/check.log" 2>&1 || { tail -n 20 "$FD/check.log" >&2; die "$shape: pql check failed ($FD/check.log)"; }
  fstamp="from=$FROM to=$TO pql=$BIN_SHA"
  if [[ -f "$FEATURES" && -f "$FD/features.args" && "$(cat "$FD/features.args")" == "$fstamp" ]]; then
    log "$shape: features ($fstamp) present"
  else
    log "$shape: pql features --from $FROM --to $TO"
    rm -f "$FEATURES" "$FD/features.args"
    t0="$(now)"
    "$BIN" features --config "$CONFIG" --from "$FROM" --to "$TO" --out "$FEATURES" >"$FD/features.log" 2>&1 \
      || { tail -n 20 "$FD/features.log" >&2; die "$shape: pql features failed ($FD/features.log)"; }
    echo "$(since "$t0")" >"$FD/features.seconds"
    echo "$fstamp" >"$FD/features.args"
    cat "$FD/features.log" >&2
  fi

  # (e) pql train, one run per model kind, timed from start to exit.
  pql_args=()
  for kind in "${KINDS[@]}"; do
    dir="$SD/pql-$kind"
    rm -rf "$dir"
    mkdir -p "$dir"
    log "$shape: pql train --model $kind --backtest 1"
    t0="$(now)"
    if ! "$BIN" train --config "$CONFIG" --features "$FEATURES" --model "$kind" --backtest 1 \
         --out "$dir/models" >"$dir/train.log" 2>&1; then
      tail -n 20 "$dir/train.log" >&2
      die "$shape: pql train --model $kind failed (log: $dir/train.log)"
    fi
    wall="$(since "$t0")"
    shopt -s nullglob
    found=("$dir"/models/*/metrics.json)
    shopt -u nullglob
    [[ ${#found[@]} -eq 1 ]] || die "expected one $dir/models/<model_id>/metrics.json, found ${#found[@]}"
    log "$shape: pql train --model $kind: $wall s"
    pql_args+=(--pql "$kind=${found[0]}=$wall")
  done

  # (f) The peers on the same table and split (no truth: these generators write none).
  if [[ "$REUSE_PEERS" == 1 && -f "$SD/peers.json" && "$SD/peers.json" -nt "$FEATURES" ]]; then
    log "$shape: reusing $SD/peers.json"
  else
    log "$shape: peers (scikit-learn, LightGBM)"
    "$PY" "$PEERS" peers --config "$CONFIG" --features "$FEATURES" --skip-perpetual --solver "${SOLVER:-newton-cholesky}" --out "$SD/peers.json" \
      2> >(tee "$SD/peers.log" >&2)
  fi

  # (g) peers_models.py's own report (its checks are those of benches/train; recorded, not ours).
  timings="{\"generate_s\": $(cat "$DATA/generate.seconds" 2>/dev/null || echo null), \"features_s\": $(cat "$FD/features.seconds" 2>/dev/null || echo null)}"
  set +e
  "$PY" "$PEERS" report --peers "$SD/peers.json" "${pql_args[@]}" --timings "$timings" \
    --out "$SD/results.json" --markdown "$SD/report.md" >&2 2> >(tee "$SD/report.log" >&2)
  rc=$?
  set -e
  [[ $rc -le 1 ]] || die "$shape: peers_models.py report failed"
  dirs+=("$SD")
done

# (h) One table over the shapes, with the two checks of this bench.
set +e
"$PY" "$HERE/summarize.py" --out "$OUT/results.md" --json "$OUT/results.json" \
  --command "benches/quality/run.sh ${SHAPES[*]}" "${dirs[@]}"
rc=$?
set -e
log "all done in $(since "$started") s; table in $OUT/results.md"
exit $rc
