#!/usr/bin/env bash
# bench.sh — the collectors' bench (docs/performance.md, "Collectors"):
# the released binary's `postvakt import --dry-run` (parse, correlate,
# records, abuse detection; no database) against pflogsumm on the same
# log, ROUNDS times interleaved, optionally with an import into a fresh
# SQLite database and into PostgreSQL. Per run it prints wall seconds,
# lines/s, the process's user+system CPU seconds and the load average
# (/proc/loadavg) when the run started; per round the ratio
# postvakt/pflogsumm (lines/s, and by CPU); at the end the medians.
#
#   collectors/bench.sh ROUNDS LOG
#
#   PV=bin/postvakt            the binary measured (default: `make build`'s bin/postvakt)
#   PV_BEFORE=/tmp/pv-old      also run this binary's --dry-run in every round,
#                              right after PV's in odd rounds, before it in even
#                              ones (before/after a change)
#   SQLITE=1                   also import into a fresh SQLite database per round
#   PG_URL=postgres://…        also import into PostgreSQL; the script empties the
#                              database's public schema and migrates before each run
#
# The log: go run ./collectors/cmd/mkmaillog -sample ../shared/samples/real-logs \
#   -lines 1000000 -o /tmp/mail-1m.log   (older than five minutes, it is mapped).
# Needs pflogsumm (Debian package pflogsumm), GNU time (/usr/bin/time), awk; psql
# for PG_URL. On a shared machine the CPU seconds are the fairer comparison.
set -euo pipefail
[ $# -eq 2 ] || { sed -n 2,25p "$0"; exit 2; }
ROUNDS=$1 LOG=$2
PV=${PV:-bin/postvakt}
[ -x "$PV" ] || { echo "bench: no binary $PV (make build, or PV=path)" >&2; exit 2; }
[ -f "$LOG" ] || { echo "bench: no log $LOG" >&2; exit 2; }
command -v pflogsumm >/dev/null || { echo "bench: pflogsumm not found (apt-get install pflogsumm)" >&2; exit 2; }
LINES=$(wc -l <"$LOG")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RES=$TMP/results # round series wall cpu load

# the configuration a user would write: the example's defaults, a data
# directory, the log's zone (abuse detection on, as shipped)
cat >"$TMP/plain.yaml" <<EOF
data_dir: $TMP/data
collectors:
  log_timezone: UTC
EOF
if [ -n "${PG_URL:-}" ]; then
  cat >"$TMP/pg.yaml" <<EOF
data_dir: $TMP/data
database:
  url: $PG_URL
collectors:
  log_timezone: UTC
EOF
fi

# timed ROUND SERIES CMD…: runs CMD with its output discarded, records
# wall, user+sys CPU and the 1-minute load average at its start
timed() {
  local round=$1 series=$2 load w u s
  shift 2
  load=$(cut -d' ' -f1 /proc/loadavg)
  if ! /usr/bin/time -f "%e %U %S" -o "$TMP/t" "$@" >"$TMP/out" 2>"$TMP/err"; then
    echo "bench: $series failed:" >&2
    tail -5 "$TMP/err" >&2
    exit 1
  fi
  read -r w u s <"$TMP/t"
  echo "$round $series $w $(awk -v u="$u" -v s="$s" 'BEGIN{print u + s}') $load" >>"$RES"
  awk -v r="$round" -v n="$series" -v w="$w" -v u="$u" -v s="$s" -v l="$LINES" -v ld="$load" \
    'BEGIN { printf "round %d  %-18s wall %7.2f s  %10.0f lines/s  cpu %6.2f s (user %.2f + sys %.2f)  load %s\n", r, n, w, l / w, u + s, u, s, ld }'
}

echo "log: $LOG ($LINES lines); binary: $PV ($("$PV" version 2>/dev/null | head -1 || true)); $(nproc) CPUs"
for r in $(seq "$ROUNDS"); do
  # with PV_BEFORE, the two binaries take turns going first
  if [ -n "${PV_BEFORE:-}" ] && [ $((r % 2)) -eq 0 ]; then
    timed "$r" dry-run-before "$PV_BEFORE" import --config "$TMP/plain.yaml" --dry-run "$LOG"
  fi
  timed "$r" dry-run "$PV" import --config "$TMP/plain.yaml" --dry-run "$LOG"
  if [ -n "${PV_BEFORE:-}" ] && [ $((r % 2)) -eq 1 ]; then
    timed "$r" dry-run-before "$PV_BEFORE" import --config "$TMP/plain.yaml" --dry-run "$LOG"
  fi
  timed "$r" pflogsumm pflogsumm "$LOG"
  if [ -n "${SQLITE:-}" ]; then
    rm -rf "$TMP/data"
    timed "$r" sqlite "$PV" import --config "$TMP/plain.yaml" --create-database --no-rollups "$LOG"
  fi
  if [ -n "${PG_URL:-}" ]; then
    psql -q "$PG_URL" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' >/dev/null
    "$PV" migrate up --config "$TMP/pg.yaml" >/dev/null
    timed "$r" postgresql "$PV" import --config "$TMP/pg.yaml" --no-rollups "$LOG"
  fi
  # this round's ratio: postvakt's lines/s over pflogsumm's (= pflogsumm's
  # seconds over postvakt's), by wall clock and by CPU
  awk -v r="$r" '$1 == r { w[$2] = $3; c[$2] = $4 }
    END { printf "round %d  ratio postvakt/pflogsumm: %.2fx wall, %.2fx CPU", r, w["pflogsumm"] / w["dry-run"], c["pflogsumm"] / c["dry-run"]
          if ("dry-run-before" in w) printf "  (before: %.2fx wall, %.2fx CPU)", w["pflogsumm"] / w["dry-run-before"], c["pflogsumm"] / c["dry-run-before"]
          printf "\n" }' "$RES"
done

echo "medians over $ROUNDS round(s):"
for series in dry-run dry-run-before pflogsumm sqlite postgresql; do
  grep -q " $series " "$RES" || continue
  for col in 3 4 5; do
    awk -v s="$series" -v c="$col" '$2 == s { print $c }' "$RES" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  done | paste -sd' ' | awk -v n="$series" -v l="$LINES" \
    '{ printf "  %-18s wall %7.2f s  %10.0f lines/s  cpu %6.2f s  %10.0f lines per CPU-s  load %s\n", n, $1, l / $1, $2, l / $2, $3 }'
done
# the ratio's median over the rounds (not the ratio of the medians)
awk '{ w[$1, $2] = $3; c[$1, $2] = $4; if ($1 > n) n = $1 }
  END { for (r = 1; r <= n; r++) { print w[r, "pflogsumm"] / w[r, "dry-run"], c[r, "pflogsumm"] / c[r, "dry-run"] } }' "$RES" >"$TMP/ratios"
for col in 1 2; do
  cut -d' ' -f"$col" "$TMP/ratios" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
done | paste -sd' ' | awk '{ printf "  ratio postvakt/pflogsumm, median of the rounds: %.2fx wall, %.2fx CPU\n", $1, $2 }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
