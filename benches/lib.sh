# Shared by the benchmark scripts (sourced, not run): the pinned Python peers and timing with GNU time.

# Creates $ROOT/target/bench-venv-quality with benches/quality/requirements.txt if needed; sets PY.
peer_python() {
  local venv="$ROOT/target/bench-venv-quality"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/benches/quality/requirements.txt"
  PY="$venv/bin/python"
}

# measure DIR RUNS COMMAND...: runs COMMAND RUNS times (its output in DIR/last.log; a failure stops the
# script with that log); prints "median_wall_s median_peak_mb" (GNU time's %e and %M).
measure() {
  local dir="$1" count="$2" runs=()
  shift 2
  for _ in $(seq "$count"); do
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" >"$dir/last.log" 2>&1 || { cat "$dir/last.log" >&2; exit 1; }
    runs+=("$(cat "$dir/time.txt")")
  done
  local middle=$(((count + 1) / 2)) wall peak
  wall="$(printf '%s\n' "${runs[@]}" | awk '{print $1}' | sort -n | sed -n "${middle}p")"
  peak="$(printf '%s\n' "${runs[@]}" | awk '{print $2}' | sort -n | sed -n "${middle}p")"
  echo "$wall $(awk -v k="$peak" 'BEGIN {printf "%.0f", k / 1024}')"
}
