#!/usr/bin/env bash
# Benchmarks the feature table computed three ways on the same generated data (see README.md): `pql features`,
# and the SQL of `pql sql` run on DuckDB and on Spark in local mode.
#
#   benches/sql/run.sh                 # 10M events, 3 runs each
#   SIZES="10M 100M" benches/sql/run.sh
#
# Environment: SIZES (default 10M), REPEATS (3), TIMEOUT (3600 s per run), SPARK_MASTER (local[2]),
# SPARK_DRIVER_MEMORY (8g), SPARK_CONF (space-separated KEY=VALUE Spark settings), PQL (the binary, default target/release/pql), FROM/TO (2025-05-05/2025-06-23),
# TOOLS (default "pql duckdb spark"), HISTORY (a folder with a pql.toml and its inputs, e.g. another
# generator's history, run instead of SIZES).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/target/bench-venv"
DATA="$ROOT/target/bench-data"
OUT="$ROOT/target/bench-out/sql"
PQL="${PQL:-$ROOT/target/release/pql}"
SIZES="${SIZES:-10M}"
REPEATS="${REPEATS:-3}"
TIMEOUT="${TIMEOUT:-3600}"
FROM="${FROM:-2025-05-05}"
TO="${TO:-2025-06-23}"
SPARK_MASTER="${SPARK_MASTER:-local[2]}"
SPARK_DRIVER_MEMORY="${SPARK_DRIVER_MEMORY:-8g}"
SPARK_CONF="${SPARK_CONF:-}"
TOOLS="${TOOLS:-pql duckdb spark}"
HISTORY="${HISTORY:-}"  # a folder holding a pql.toml and its inputs, used instead of generated sizes

log() { printf '[bench] %s\n' "$*" >&2; }

accounts_for() {  # about 120 events per account: 10M -> 83000 accounts (as in benches/features)
  if [[ "$1" =~ ^([0-9]+)M$ ]]; then
    echo $((BASH_REMATCH[1] * 8300))
  else
    echo "unknown size $1 (use a number of millions of events, such as 10M)" >&2
    exit 2
  fi
}

[[ -x /usr/bin/time ]] || { echo "GNU time is needed at /usr/bin/time (apt-get install time)" >&2; exit 2; }
[[ -x "$PQL" ]] || { echo "no pql binary at $PQL (cargo build --release)" >&2; exit 2; }
command -v java >/dev/null || { echo "Spark needs Java 17 on the PATH" >&2; exit 2; }

# (a) Python environment with pinned packages (DuckDB, PySpark, and pyarrow for compare.py).
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
PY="$VENV/bin/python"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

RESULTS="$OUT/results.tsv"
mkdir -p "$OUT"
: >"$RESULTS"
declare -A EQUAL

[[ -z "$HISTORY" ]] || SIZES="$(basename "$HISTORY")"
for size in $SIZES; do
  dir="$DATA/$size"
  out="$OUT/$size"
  mkdir -p "$out"

  # (b) The dataset, shared with benches/features; or the history given, its inputs named by its config.
  if [[ -n "$HISTORY" ]]; then
    dir="$(cd "$HISTORY" && pwd)"
    log "history $dir"
  elif [[ -f "$dir/pql.toml" && -f "$dir/events.parquet" ]]; then
    log "dataset $size present in $dir"
  else
    log "generating $size events into $dir"
    rm -rf "$dir"
    "$PQL" generate --accounts "$(accounts_for "$size")" --seed 42 --out "$dir" >&2
  fi
  mapfile -t tables < <("$PY" -c '
import os, sys, tomllib
inputs = tomllib.load(open(sys.argv[1], "rb"))["inputs"]
for name in ("events", "accounts", "conversions"):
    print("--table")
    print(f"{name}={os.path.join(os.path.dirname(sys.argv[1]), inputs[name])}")
' "$dir/pql.toml")

  # (c) The scripts: written once, outside the timings (pql sql takes milliseconds).
  for dialect in duckdb spark; do
    "$PQL" sql --config "$dir/pql.toml" --dialect "$dialect" --from "$FROM" --to "$TO" --out "$out/features.$dialect.sql"
  done

  # (d) Runs, each under GNU time (wall seconds, peak RSS of the process tree's largest process) and timeout.
  cd "$out"  # DuckDB spills to ./.tmp, Spark writes its scratch space under the working folder
  for tool in $TOOLS; do
    case "$tool" in
      pql) result="$out/pql.parquet"
        cmd=("$PQL" features --config "$dir/pql.toml" --from "$FROM" --to "$TO" --out "$result") ;;
      duckdb | spark) result="$out/$tool.parquet"
        cmd=("$PY" "$HERE/run_engine.py" "$tool" "${tables[@]}" --script "$out/features.$tool.sql" --out "$result"
          --master "$SPARK_MASTER" --driver-memory "$SPARK_DRIVER_MEMORY")
        for setting in $SPARK_CONF; do cmd+=(--conf "$setting"); done ;;
      *) echo "unknown tool $tool (pql, duckdb, spark)" >&2; exit 2 ;;
    esac
    walls=() queries=() rss_max=0 status=ok
    for ((i = 1; i <= REPEATS; i++)); do
      log "$size $tool run $i/$REPEATS"
      rm -rf "$result"
      logfile="$out/$tool.$i.log"
      if ! /usr/bin/time -f '%e %M' -o "$logfile.time" timeout --kill-after=30 "$TIMEOUT" "${cmd[@]}" >"$logfile" 2>&1; then
        status=failed
        log "$size $tool failed; last lines of $logfile:"
        tail -n 5 "$logfile" | sed 's/^/    /' >&2
        break
      fi
      read -r wall rss < <(tail -n 1 "$logfile.time")
      jvm="$(awk '$1 == "jvm_peak_rss_kb" {print $2}' "$logfile")"
      rss=$((rss + ${jvm:-0}))  # Spark: the JVM's peak beside the Python driver's
      walls+=("$wall")
      # The engines' own split: session start, then the query (and its Parquet write).
      query="$(awk '$1 == "query_s" {print $2}' "$logfile")"
      queries+=("${query:-$wall}")
      (( rss > rss_max )) && rss_max=$rss
      log "$size $tool run $i: $wall s wall, ${query:-$wall} s query, $((rss / 1024)) MiB"
    done
    if [[ $status == ok ]]; then
      printf '%s\t%s\tok\t%s\t%s\t%s\n' "$size" "$tool" "$(printf '%s\n' "${walls[@]}" | median)" \
        "$(printf '%s\n' "${queries[@]}" | median)" "$((rss_max / 1024))" >>"$RESULTS"
    else
      printf '%s\t%s\t%s\t-\t-\t-\n' "$size" "$tool" "$status" >>"$RESULTS"
    fi
  done

  # (e) Equality: each engine's table against pql's, within 1e-9 (benches/features/compare.py).
  for tool in $TOOLS; do
    [[ $tool == pql ]] && continue
    if [[ -e "$out/$tool.parquet" && -e "$out/pql.parquet" ]]; then
      if "$PY" "$ROOT/benches/features/compare.py" "$out/pql.parquet" "$out/$tool.parquet" >"$out/compare-$tool.txt" 2>&1; then
        EQUAL[$size.$tool]=yes
      else
        EQUAL[$size.$tool]=no
        head -n 40 "$out/compare-$tool.txt" | sed 's/^/    /' >&2
      fi
    else
      EQUAL[$size.$tool]="n/a"
    fi
  done
done

# (f) Report.
{
  echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; snapshots $FROM..$TO (weekly); $(
    "$PY" -c 'import duckdb, pyspark; print(f"duckdb {duckdb.__version__}, pyspark {pyspark.__version__}")'), $(
    java -version 2>&1 | head -n 1); Spark master $SPARK_MASTER, driver memory $SPARK_DRIVER_MEMORY${SPARK_CONF:+, $SPARK_CONF}"
  echo
  echo "| size | tool | median wall s | median query s | peak RSS MiB | wall ratio to pql | equal to pql |"
  echo "|---|---|---:|---:|---:|---:|---|"
  while IFS=$'\t' read -r size tool status wall query rss; do
    pql_wall="$(awk -F'\t' -v s="$size" '$1 == s && $2 == "pql" && $3 == "ok" {print $4}' "$RESULTS")"
    if [[ $status != ok ]]; then
      echo "| $size events | $tool | $status | - | - | - | - |"
      continue
    fi
    ratio=n/a
    [[ -n "$pql_wall" ]] && ratio="$(awk -v a="$wall" -v b="$pql_wall" 'BEGIN {printf "%.1fx", a / b}')"
    if [[ $tool == pql ]]; then equal="(reference)"; else equal="${EQUAL[$size.$tool]:-n/a}"; fi
    printf '| %s events | %s | %.2f | %.2f | %s | %s | %s |\n' "$size" "$tool" "$wall" "$query" "$rss" "$ratio" "$equal"
  done <"$RESULTS"
  echo
  echo "Wall: the whole command (engine start, reading the inputs, the query, writing Parquet), median of $REPEATS runs."
  echo "Query: the engines' statements and Parquet write after their session has started (for pql, the wall)."
  echo "Peak RSS: GNU time %M, the largest of the runs; for Spark, the Python driver's plus the JVM's peak (VmHWM)."
} | tee "$OUT/results.md"

for v in "${EQUAL[@]}"; do [[ $v == no ]] && exit 1; done
exit 0
