#!/usr/bin/env bash
# bench.sh — the engine's side-by-side measurement (docs/performance.md,
# "Engine"): smtp-source at 20 sessions, 4 KiB messages, one
# connection per message, against each server in turn, ROUNDS times;
# prints msgs/s and the server's CPU per message (user+system of its
# process tree from /proc, reaped children included).
#
#   engine/loadgen/bench.sh ROUNDS N name:host:port:pid …
#
# e.g. engine/loadgen/bench.sh 3 10000 postvakt:127.0.0.1:2525:$(pgrep -f TestEngineServeHelper) \
#        gosmtp:127.0.0.1:2727:$(pgrep -f pv-baseline) postfix:127.0.0.1:2626:$(cat /var/spool/postfix/pid/master.pid)
# Needs smtp-source (Debian's postfix package) and bc.
set -euo pipefail
[ $# -ge 3 ] || { sed -n 2,13p "$0"; exit 2; }
R=$1; N=$2; shift 2; HZ=$(getconf CLK_TCK)
tree_cpu() { local t; t=$(awk '{print $14+$15+$16+$17}' "/proc/$1/stat")
  for c in $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14+$15}' "/proc/$c/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
run() { local name=$1 addr=$2 pid=$3
  smtp-source -s 20 -l 4096 -m 300 -f s@else.example -t anna@uni.example "$addr"
  local c0 t0 t1 c1
  c0=$(tree_cpu "$pid"); t0=$(date +%s.%N)
  smtp-source -s 20 -l 4096 -m "$N" -f s@else.example -t anna@uni.example "$addr"
  t1=$(date +%s.%N); c1=$(tree_cpu "$pid")
  awk -v n="$N" -v el="$(echo "$t1 - $t0" | bc)" -v c=$((c1 - c0)) -v hz="$HZ" -v name="$name" -v ld="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN{printf "%-12s %6.0f msgs/s  %6.0f us server CPU/msg  (load %s)\n", name, n/el, c/hz/n*1e6, ld}'; }
for _ in $(seq "$R"); do
  for s in "$@"; do IFS=: read -r name host port pid <<<"$s"; run "$name" "$host:$port" "$pid"; done
done
