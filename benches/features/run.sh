#!/usr/bin/env bash
# Benchmarks `pql features` against the DuckDB and pandas peers on generated data (see README.md).
#
#   benches/features/run.sh                      # 10M and 100M events
#   SIZES=10M benches/features/run.sh            # one size
#   SKIP_PQL=1 SIZES=10M benches/features/run.sh # peers only (compared with each other)
#
# Environment: SIZES (default "10M 100M"), REPEATS_10M (3), REPEATS_100M (1), REPEATS (overrides both),
# PANDAS_TIMEOUT (1800 s), DUCKDB_TIMEOUT (3600 s), PQL_TIMEOUT (3600 s), PANDAS_MEM_GIB (20: address-space
# limit of the pandas run, so that running out of memory ends that run only), SKIP_PQL, PQL (the binary,
# default target/release/pql), FROM/TO (2025-05-05/2025-06-23).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="$ROOT/target/bench-venv"
DATA="$ROOT/target/bench-data"
OUT="$ROOT/target/bench-out"
PQL="${PQL:-$ROOT/target/release/pql}"
SIZES="${SIZES:-10M 100M}"
FROM="${FROM:-2025-05-05}"
TO="${TO:-2025-06-23}"
PANDAS_TIMEOUT="${PANDAS_TIMEOUT:-1800}"
DUCKDB_TIMEOUT="${DUCKDB_TIMEOUT:-3600}"
PQL_TIMEOUT="${PQL_TIMEOUT:-3600}"
PANDAS_MEM_GIB="${PANDAS_MEM_GIB:-20}"
SKIP_PQL="${SKIP_PQL:-0}"

log() { printf '[bench] %s\n' "$*" >&2; }

accounts_for() {  # about 120 events per account: 10M -> 83000 accounts, 100M -> 830000
  if [[ "$1" =~ ^([0-9]+)M$ ]]; then
    echo $((BASH_REMATCH[1] * 8300))
  else
    echo "unknown size $1 (use a number of millions of events, such as 10M or 100M)" >&2
    exit 2
  fi
}

repeats_for() {
  if [[ -n "${REPEATS:-}" ]]; then echo "$REPEATS"; return; fi
  case "$1" in
    10M) echo "${REPEATS_10M:-3}" ;;
    *) echo "${REPEATS_100M:-1}" ;;
  esac
}

[[ -x /usr/bin/time ]] || { echo "GNU time is needed at /usr/bin/time (apt-get install time)" >&2; exit 2; }
[[ -x "$PQL" ]] || { echo "no pql binary at $PQL (cargo build --release)" >&2; exit 2; }

# (a) Python environment with pinned packages.
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
PY="$VENV/bin/python"

# (b) Datasets.
for size in $SIZES; do
  dir="$DATA/$size"
  if [[ -f "$dir/pql.toml" && -f "$dir/events.parquet" ]]; then
    log "dataset $size present in $dir"
  else
    log "generating $size events into $dir"
    rm -rf "$dir"
    "$PQL" generate --accounts "$(accounts_for "$size")" --seed 42 --out "$dir" >&2
  fi
done

# (c) Runs. One run: sets RUN_STATUS (ok | timeout | OOM | failed), RUN_WALL, RUN_RSS_KB.
run_once() {  # tool timeout memory-limit-GiB(or empty) logfile cmd...
  local tool="$1" limit="$2" mem_gib="$3" logfile="$4"; shift 4
  local timefile="$logfile.time" rc=0
  rm -f "$timefile"
  (
    # An address-space limit turns running out of memory into an error of this run alone.
    [[ -n "$mem_gib" ]] && ulimit -v $((mem_gib * 1024 * 1024))
    exec /usr/bin/time -f '%e %M' -o "$timefile" timeout --kill-after=30 "$limit" "$@"
  ) >"$logfile" 2>&1 || rc=$?
  RUN_WALL=nan RUN_RSS_KB=0
  [[ -s "$timefile" ]] && read -r RUN_WALL RUN_RSS_KB < <(tail -n 1 "$timefile")
  if [[ $rc -eq 0 ]]; then
    RUN_STATUS=ok
  elif [[ $rc -eq 124 ]]; then
    RUN_STATUS=timeout
  elif [[ $rc -eq 137 ]] || grep -q -i -E 'MemoryError|out of memory|unable to allocate|cannot allocate|failed to allocate|bad_alloc|memory allocation of|Wrapping .* failed' "$logfile"; then
    RUN_STATUS=OOM
  else
    RUN_STATUS=failed
  fi
  if [[ $RUN_STATUS != ok ]]; then
    log "$tool: $RUN_STATUS (exit $rc); last lines of $logfile:"
    tail -n 5 "$logfile" | sed 's/^/    /' >&2
  fi
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

RESULTS="$OUT/results.tsv"
mkdir -p "$OUT"
: >"$RESULTS"

tools="duckdb pandas"
[[ "$SKIP_PQL" == 1 ]] || tools="pql $tools"

for size in $SIZES; do
  dir="$DATA/$size"
  out="$OUT/$size"
  mkdir -p "$out"
  cd "$out"  # DuckDB spills to ./.tmp when it runs out of memory
  repeats="$(repeats_for "$size")"
  for tool in $tools; do
    case "$tool" in
      pql) limit="$PQL_TIMEOUT"; mem=""; cmd=("$PQL" features --config "$dir/pql.toml" --from "$FROM" --to "$TO" --out "$out/pql.parquet") ;;
      duckdb) limit="$DUCKDB_TIMEOUT"; mem=""; cmd=("$PY" "$HERE/peer_duckdb.py" --config "$dir/pql.toml" --from "$FROM" --to "$TO" --out "$out/duckdb.parquet") ;;
      pandas) limit="$PANDAS_TIMEOUT"; mem="$PANDAS_MEM_GIB"; cmd=("$PY" "$HERE/peer_pandas.py" --config "$dir/pql.toml" --from "$FROM" --to "$TO" --out "$out/pandas.parquet") ;;
    esac
    rm -f "$out/$tool.parquet"
    walls=() rss_max=0 status=ok
    for ((i = 1; i <= repeats; i++)); do
      log "$size $tool run $i/$repeats"
      run_once "$tool" "$limit" "$mem" "$out/$tool.$i.log" "${cmd[@]}"
      if [[ $RUN_STATUS != ok ]]; then status=$RUN_STATUS; break; fi
      walls+=("$RUN_WALL")
      (( RUN_RSS_KB > rss_max )) && rss_max=$RUN_RSS_KB
      log "$size $tool run $i: ${RUN_WALL} s, $((RUN_RSS_KB / 1024)) MiB"
    done
    if [[ $status == ok ]]; then
      wall="$(printf '%s\n' "${walls[@]}" | median)"
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$tool" ok "$wall" "$((rss_max / 1024))" "$repeats" >>"$RESULTS"
    else
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$tool" "$status" "-" "-" "$repeats" >>"$RESULTS"
    fi
  done
done

# (d) Equality: each peer against pql (or, with SKIP_PQL, pandas against DuckDB).
ref=pql
[[ "$SKIP_PQL" == 1 ]] && ref=duckdb
declare -A EQUAL
for size in $SIZES; do
  out="$OUT/$size"
  for tool in $tools; do
    [[ $tool == "$ref" ]] && continue
    if [[ -f "$out/$tool.parquet" && -f "$out/$ref.parquet" ]]; then
      log "$size: compare $tool with $ref"
      if "$PY" "$HERE/compare.py" "$out/$ref.parquet" "$out/$tool.parquet" >"$out/compare-$tool.txt" 2>&1; then
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

# (e) Report.
{
  echo "Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB; snapshots $FROM..$TO (weekly); $(
    "$PY" -c 'import pandas, pyarrow, duckdb; print(f"pandas {pandas.__version__}, pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}")')"
  echo
  echo "| size | tool | median wall s | peak RSS MiB | ratio to pql | output equal |"
  echo "|---|---|---:|---:|---:|---|"
  while IFS=$'\t' read -r size tool status wall rss repeats; do
    pql_wall="$(awk -F'\t' -v s="$size" '$1 == s && $2 == "pql" && $3 == "ok" {print $4}' "$RESULTS")"
    if [[ $status != ok ]]; then
      wall_s="$status"; rss_s="-"; ratio="-"
    else
      wall_s="$(printf '%.2f' "$wall")"; rss_s="$rss"
      if [[ -n "$pql_wall" ]]; then ratio="$(awk -v a="$wall" -v b="$pql_wall" 'BEGIN {printf "%.1fx", a / b}')"; else ratio="n/a"; fi
    fi
    if [[ $tool == "$ref" ]]; then equal="(reference)"; else equal="${EQUAL[$size.$tool]:-n/a}"; fi
    echo "| $size events | $tool | $wall_s | $rss_s | $ratio | $equal |"
  done <"$RESULTS"
  echo
  echo "Wall: median of the repeats (${REPEATS:-10M: ${REPEATS_10M:-3}, 100M: ${REPEATS_100M:-1}}); peak RSS: the largest of the repeats (GNU time %M)."
} | tee "$OUT/results.md"

# Non-zero exit when some output differs from the reference (the table is printed either way).
for v in "${EQUAL[@]}"; do [[ $v == no ]] && exit 1; done
exit 0
