#!/usr/bin/env bash
# Logistic regression fit time: pql (Newton) against scikit-learn's lbfgs on identical matrices.
#   benches/train/logistic.sh            # 200k x 20 and 1M x 40
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/target/bench-venv"
OUT="$ROOT/target/bench-out/train"
mkdir -p "$OUT"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "scikit-learn==1.7.2" "numpy==2.4.6"
cargo build --release -p pql-train --example fit_logistic --manifest-path "$ROOT/Cargo.toml"
for shape in "200000 20" "1000000 40"; do
  set -- $shape
  "$ROOT/target/release/examples/fit_logistic" "$1" "$2" "$OUT/m$1x$2"
  "$VENV/bin/python" "$ROOT/benches/train/logistic_vs_sklearn.py" "$OUT/m$1x$2" "$1" "$2"
done
