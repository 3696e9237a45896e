# Shared by the bench scripts (sourced): timing one run and taking medians.

# time_us <dir> <command…>: microseconds for one run in <dir>, output discarded. The wall time of one
# fork+exec+wait from bash ($EPOCHREALTIME, no extra process).
time_us() {
  local dir="$1"; shift
  local start end
  start=$EPOCHREALTIME
  (cd "$dir" && "$@" >/dev/null 2>&1) || true
  end=$EPOCHREALTIME
  echo $(( (${end/./} - ${start/./}) ))
}

# median <samples…>: the median of numbers given as arguments or as one space-separated string.
median() {
  # shellcheck disable=SC2048,SC2086 # split on purpose: samples come as one string or many words
  printf '%s\n' $* | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
