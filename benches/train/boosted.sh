#!/usr/bin/env bash
# Boosted-tree fit time: pql against LightGBM on identical matrices and settings (200 trees, 2 threads).
#   benches/train/boosted.sh            # 200k x 20 and 1M x 40
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/target/bench-venv"
OUT="$ROOT/target/bench-out/train"
mkdir -p "$OUT"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/benches/train/requirements.txt"
fi
cargo build --release -p pql-train --example fit_boosted --manifest-path "$ROOT/Cargo.toml"
seconds() { sed -n 's/.*median fit \([0-9.]*\) s.*/\1/p'; }
for shape in "200000 20" "1000000 40"; do
  set -- $shape
  pql=$("$ROOT/target/release/examples/fit_boosted" "$1" "$2" "$OUT/b$1x$2")
  lightgbm=$("$VENV/bin/python" "$ROOT/benches/train/boosted_vs_lightgbm.py" "$OUT/b$1x$2" "$1" "$2")
  echo "$pql"
  echo "$lightgbm"
  awk -v p="$(seconds <<<"$pql")" -v l="$(seconds <<<"$lightgbm")" -v s="$1x$2" \
    'BEGIN { printf "%s: pql / LightGBM fit time = %.2f\n", s, p / l }'
done
