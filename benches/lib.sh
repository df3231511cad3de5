# Shared by the benchmark scripts (sourced, not run): the pinned Python peers and timing with GNU time.

# Creates $ROOT/target/bench-venv-quality with benches/quality/requirements.txt if needed; sets PY.
peer_python() {
  local venv="$ROOT/target/bench-venv-quality"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/benches/quality/requirements.txt"
  PY="$venv/bin/python"
}

# measure_anon DIR RUNS COMMAND...: runs COMMAND RUNS times under GNU time (its output in DIR/last.log; a
# failure stops with that log) and samples the command's anonymous resident memory
# (RssAnon: its own heap, not the pages of input files it maps) every 0.2 s; prints "median_wall_s
# median_peak_mb median_peak_anon_mb".
measure_anon() {
  local dir="$1" count="$2" runs=()
  shift 2
  for _ in $(seq "$count"); do
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" >"$dir/last.log" 2>&1 &
    local timer=$! anon=0 pid kb
    while kill -0 "$timer" 2>/dev/null; do
      pid="$(pgrep -P "$timer" | head -1)"
      kb="$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
      [[ -n "$kb" && "$kb" -gt "$anon" ]] && anon="$kb"
      sleep 0.2
    done
    wait "$timer" || { cat "$dir/last.log" >&2; exit 1; }
    runs+=("$(cat "$dir/time.txt") $anon")
  done
  local middle=$(((count + 1) / 2)) wall peak anon_peak
  wall="$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | sort -n | sed -n "${middle}p")"
  peak="$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | sort -n | sed -n "${middle}p")"
  anon_peak="$(printf '%s\n' "${runs[@]}" | awk '{print $3}' | sort -n | sed -n "${middle}p")"
  echo "$wall $(awk -v k="$peak" 'BEGIN {printf "%.0f", k / 1024}') $(awk -v k="$anon_peak" 'BEGIN {printf "%.0f", k / 1024}')"
}

# measure DIR RUNS COMMAND...: as measure_anon, without the anonymous memory: prints "median_wall_s
# median_peak_mb" (GNU time's %e and %M).
measure() {
  measure_anon "$@" | awk '{print $1, $2}'
}
