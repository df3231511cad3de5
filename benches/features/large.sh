#!/usr/bin/env bash
# Peak memory and wall time of `pql features` on a history of about 100M events that is not in per-account
# time order, from Parquet and from one CSV file.
#
#   benches/features/large.sh HISTORY_DIR [COPIES]   # default 10 copies
#
# HISTORY_DIR holds a pql.toml and its inputs (e.g. `benches/quality/generate.py teamchat --accounts 80000
# --seed 7 --out target/bench-data/teamchat-10M`, 10.3M events). scale_history.py writes COPIES copies of
# it (each copy a new set of account ids, written copy after copy, so the events are out of order) as
# Parquet and as CSV under target/bench-data/. Each run is timed RUNS times (default 1) with GNU time over
# FROM..TO (default 2024-01-08..2024-07-01); target/bench-out/features-large/results.md gives medians of
# wall time, peak RSS (GNU time; it includes the pages of a CSV file polars maps to read it) and peak
# anonymous memory (RssAnon, sampled: the process's own memory, what can exhaust the machine).
# For DuckDB on the same Parquet history: HISTORY=<the Parquet copy> TOOLS="pql duckdb" benches/sql/run.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
USAGE="usage: large.sh HISTORY_DIR [COPIES]"
SOURCE="${1:?$USAGE}"
COPIES="${2:-10}"
RUNS="${RUNS:-1}"
FROM="${FROM:-2024-01-08}"
TO="${TO:-2024-07-01}"
PQL="${PQL:-$ROOT/target/release/pql}"
OUT="$ROOT/target/bench-out/features-large"
NAME="$(basename "$SOURCE")-x$COPIES"
mkdir -p "$OUT"
[[ -x "$PQL" ]] || { echo "large.sh: no $PQL; run cargo build --release" >&2; exit 2; }
# shellcheck source=../lib.sh
source "$ROOT/benches/lib.sh"
peer_python

{
  echo "benches/features/large.sh on $NAME (from $SOURCE), $FROM..$TO, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, medians of $RUNS"
  echo
  echo "| input | events | wall s | peak RSS MiB | peak anonymous MiB |"
  echo "|---|---:|---:|---:|---:|"
} >"$OUT/results.md"
for format in parquet csv; do
  data="$ROOT/target/bench-data/$NAME-$format"
  if [[ ! -f "$data/pql.toml" ]]; then
    flag=()
    [[ "$format" == csv ]] && flag=(--csv)
    "$PY" "$ROOT/benches/features/scale_history.py" "$SOURCE" "$data" --copies "$COPIES" "${flag[@]}"
  fi
  read -r wall peak anon < <(measure_anon "$OUT" "$RUNS" "$PQL" features --config "$data/pql.toml" --from "$FROM" --to "$TO" \
    --out "$OUT/features-$format.parquet")
  events="$(awk '$1 == "read" {print $2; exit}' "$OUT/last.log")"
  echo "| $format, out of order | $events | $wall | $peak | $anon |" >>"$OUT/results.md"
done
cat "$OUT/results.md"
