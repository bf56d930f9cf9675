# lib.sh: helpers the benchmarks share (sourced).

# ticks PID...: user+sys clock ticks (/proc/PID/stat fields 14, 15) of these
# processes and their children (Kamailio forks its workers)
ticks() {
  local sum=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
    [ -r "/proc/$p/stat" ] && sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$sum"
}
