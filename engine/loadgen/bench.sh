#!/usr/bin/env bash
# bench.sh — the engine's side-by-side measurement (docs/performance.md,
# "Engine"): the released `postvakt serve` binary, with a configuration a
# user would write, against the peers it replaces, in interleaved rounds.
#
#   engine/loadgen/bench.sh                       # 5 rounds, series 20 and 1
#   ROUNDS=5 SERIES="20 1 100 content" PG_URL=postgres://… engine/loadgen/bench.sh
#
# What it starts (all on 127.0.0.1, under one temporary directory that is
# removed at the end, every process stopped by its pid):
#   postvakt     `postvakt serve` ($POSTVAKT, else `make build`'s bin/postvakt)
#                on SQLite under the temporary directory: greylisting off,
#                SPF/DKIM/DMARC checks off (smtp.dmarc.check, on by default:
#                this machine has no DNS, and every message would wait
#                smtp.dmarc.timeout for it), local domain uni.example with
#                the mailbox anna delivered into the embedded store,
#                everything else at its default
#   postvakt-old the same config with $OLD (a second binary, "before"), if set
#   postvakt-pg  the same config on PostgreSQL at $PG_URL (a database the
#                script may fill; its engine tables are counted, not emptied)
#                with smtp.commit.workers PG_WORKERS (1, the default; 4 was
#                slower here, with PostgreSQL on the same two cores)
#   postvakt-cs  SQLite with content scanning on (built-in rules), for the
#                series "content"
#   postfix      Debian's Postfix, virtual(8) delivery into a Maildir
#                (engine/loadgen/baseline/postfix.sh; needs root and postfix)
#   go-fsync     bare go-smtp writing each message to a file and fsyncing it
#                before the 250 (engine/loadgen/baseline -fsync)
#   go-sqlite    bare go-smtp storing each message as a row of one SQLite
#                table, concurrent sessions' messages committed together
#                (WAL, synchronous=FULL) before the 250: the least a server
#                keeping its mail in SQLite does (engine/loadgen/baseline -sqlite)
#   go-discard   bare go-smtp discarding each message (engine/loadgen/baseline)
# SKIP="postfix go-discard go-sqlite" leaves peers out. LIMITS (and OLD_LIMITS for
# $OLD) adds YAML lines under smtp.limits, e.g. OLD_LIMITS="pregreet_wait: 0s".
# CPUPROFILE=FILE profiles the postvakt server (serve --cpuprofile) over
# the whole run.
#
# Series (SERIES, default "20 1"), smtp-source with 4 KiB messages:
#   20       20 sessions, one message per connection, N messages (10000)
#   1        1 session, one message per connection, N1 messages (2000)
#   100      100 sessions, connections reused (-d), N messages
#   content  20 sessions as "20", postvakt with and without content scanning
# Per round and server: msgs/s, the server's CPU per message (user+system of
# its process tree from /proc, reaped children included; for Postfix after
# its queue has delivered every message; for postvakt-pg with the
# PostgreSQL server's own CPU when PG_PID names its postmaster) and the
# load average (1 min) at its start;
# then the round's ratios postvakt/postfix, postvakt/go-fsync and
# postvakt/go-sqlite, and at the end the medians. Finally every server's store is counted: each message
# acknowledged must be there (exit 1 otherwise).
#
# Memory under sustained load: SOAK=MESSAGES (e.g. 300000) starts only
# postvakt (and postvakt-pg with PG_URL), warms up with WARM messages,
# sends MESSAGES at 20 sessions in batches of N (both servers at once),
# then stays idle SOAK_IDLE seconds (600), printing the RSS of each server
# (VmRSS, MiB) at most every SAMPLE seconds (5), its change against the
# first sample after the warm-up, and at the end the messages stored.
#
# Needs smtp-source (Debian's postfix package), sqlite3 (and psql for
# PG_URL), bc, go (to build the baseline; or BASELINE=path).
set -euo pipefail
case ${1:-} in -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;; esac

ROUNDS=${ROUNDS:-5}; N=${N:-10000}; N1=${N1:-2000}; WARM=${WARM:-500}
SERIES=${SERIES:-20 1}; SKIP=${SKIP:-}; PORT0=${PORT0:-24000}; LEN=${LEN:-4096}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HZ=$(getconf CLK_TCK)
for c in smtp-source sqlite3 bc; do command -v $c >/dev/null || { echo "bench.sh: $c is needed" >&2; exit 1; }; done
[ -z "${PG_URL:-}" ] || command -v psql >/dev/null || { echo "bench.sh: psql is needed with PG_URL" >&2; exit 1; }

TMP=$(mktemp -d /tmp/pvbench.XXXXXX); chmod 755 "$TMP" # Postfix runs as the postfix user
PIDS=()
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && echo "bench.sh: $p did not stop in 15 s: killed" >&2 && kill -9 "$p"; done
  [ -f "$TMP/postfix/etc/main.cf" ] && "$ROOT/engine/loadgen/baseline/postfix.sh" stop "$TMP/postfix"
  [ -n "${KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${POSTVAKT:-}" ]; then (cd "$ROOT" && make -s build >/dev/null); POSTVAKT=$ROOT/bin/postvakt; fi
if [ -z "${BASELINE:-}" ]; then (cd "$ROOT" && go build -o "$TMP/baseline" ./engine/loadgen/baseline); BASELINE=$TMP/baseline; fi
skipped() { [[ " $SKIP " == *" $1 "* ]]; }

# The configuration a user would write: only what differs from the defaults.
# max_connections_per_ip is raised because every session comes from
# 127.0.0.1 (Postfix's peer runs with smtpd_client_connection_count_limit=0).
write_cfg() { # dir smtp-port http-port db-url content limits commit-workers
  cat >"$1/postvakt.yaml" <<EOF
data_dir: $1/data
database:
  url: "$4"
http:
  listen: 127.0.0.1:$3
smtp:
  hostname: mx.bench.invalid
  mx:
    listen: 127.0.0.1:$2
  submission:
    listen: ""
  limits:
    max_connections_per_ip: 1000
$(printf '%s\n' "$6" | sed '/^$/d; s/^/    /')
  greylist:
    enabled: false
  dmarc:
    check: false  # no DNS on the bench machine: each message would wait smtp.dmarc.timeout
  commit:
    workers: ${7:-1}
  directory:
    domains: [uni.example]
    mailboxes:
      - address: anna@uni.example
        quota_bytes: 1099511627776  # 1 TiB: a soak of 500,000 messages outgrows the default 2 GiB
content:
  enabled: $5
EOF
}

declare -A ADDR PID KIND SENT
NAMES=()
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "bench.sh: nothing listens on $1" >&2; return 1; }
start_postvakt() { # name binary db-url content limits workers [serve flags]
  local i=${#NAMES[@]} dir=$TMP/$1; mkdir -p "$dir"
  local sp=$((PORT0 + 10 * i + 1)) hp=$((PORT0 + 10 * i + 2))
  write_cfg "$dir" "$sp" "$hp" "$3" "$4" "$5" "$6"
  "$2" check-config --config "$dir/postvakt.yaml" >/dev/null
  "$2" serve --config "$dir/postvakt.yaml" "${@:7}" >"$dir/serve.log" 2>&1 &
  PID[$1]=$!; PIDS+=($!); ADDR[$1]=127.0.0.1:$sp; KIND[$1]=postvakt; NAMES+=("$1")
  wait_port "$sp"
}
start_baseline() { # name [-fsync dir | -sqlite file]
  local i=${#NAMES[@]} p=$((PORT0 + 10 * ${#NAMES[@]} + 1))
  "$BASELINE" -listen "127.0.0.1:$p" "${@:2}" 2>"$TMP/$1.log" &
  PID[$1]=$!; PIDS+=($!); ADDR[$1]=127.0.0.1:$p; KIND[$1]=baseline; NAMES+=("$1")
  wait_port "$p"
}

start_postvakt postvakt "$POSTVAKT" "" false "${LIMITS:-}" 1 ${CPUPROFILE:+--cpuprofile "$CPUPROFILE"}
[ -z "${OLD:-}" ] || start_postvakt postvakt-old "$OLD" "" false "${OLD_LIMITS:-}" 1
if [ -n "${PG_URL:-}" ]; then
  PG0=$(psql -Atqc 'SELECT count(*) FROM engine_messages' "$PG_URL" 2>/dev/null || echo 0)
  start_postvakt postvakt-pg "$POSTVAKT" "$PG_URL" false "${LIMITS:-}" "${PG_WORKERS:-1}"
fi
[ -n "${SOAK:-}" ] && SKIP="postfix go-fsync go-sqlite go-discard" SERIES=20
[[ " $SERIES " != *" content "* ]] || start_postvakt postvakt-cs "$POSTVAKT" "" true "${LIMITS:-}" 1
if ! skipped postfix; then
  if [ "$(id -u)" = 0 ] && command -v postfix >/dev/null; then
    p=$((PORT0 + 10 * ${#NAMES[@]} + 1))
    PID[postfix]=$("$ROOT/engine/loadgen/baseline/postfix.sh" start "$TMP/postfix" "$p")
    ADDR[postfix]=127.0.0.1:$p; KIND[postfix]=postfix; NAMES+=(postfix); wait_port "$p"
  else echo "bench.sh: no Postfix peer (needs root and Debian's postfix)" >&2; fi
fi
skipped go-fsync || start_baseline go-fsync -fsync "$TMP/fsync-spool"
skipped go-sqlite || start_baseline go-sqlite -sqlite "$TMP/go-sqlite.db"
skipped go-discard || start_baseline go-discard

tree_cpu() { local t; t=$(awk '{print $14+$15+$16+$17}' "/proc/$1/stat")
  for c in $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14+$15}' "/proc/$c/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
cpu_of() { # name: its CPU ticks; postvakt-pg with the PostgreSQL server's when PG_PID is its postmaster
  local t; t=$(tree_cpu "${PID[$1]}")
  if [ "$1" = postvakt-pg ] && [ -n "${PG_PID:-}" ]; then t=$((t + $(tree_cpu "$PG_PID"))); fi
  echo "$t"; }
delivered() { # name: messages in its store
  case ${KIND[$1]} in
  postvakt)
    if [ "$1" = postvakt-pg ]; then echo $(($(psql -Atqc 'SELECT count(*) FROM engine_messages' "$PG_URL") - PG0))
    else sqlite3 "file:$TMP/$1/data/postvakt.db?mode=ro" 'SELECT (SELECT count(*) FROM engine_messages) + (SELECT count(*) FROM engine_quarantine)'; fi ;;
  postfix) "$ROOT/engine/loadgen/baseline/postfix.sh" count "$TMP/postfix" ;;
  baseline) case $1 in
    go-fsync) find "$TMP/fsync-spool" -type f | wc -l ;;
    go-sqlite) sqlite3 "file:$TMP/go-sqlite.db?mode=ro" 'SELECT count(*) FROM messages' ;;
    *) echo "${SENT[$1]}" ;;
    esac ;;
  esac; }
send() { # name sessions count [-d]
  timeout 900 smtp-source -s "$2" -l "$LEN" -m "$3" ${4:-} -f s@else.example -t anna@uni.example "${ADDR[$1]}" >/dev/null
  SENT[$1]=$((${SENT[$1]:-0} + $3)); }
drain() { # Postfix acknowledges on queueing; wait (at most 2 min) until it delivered it all
  [ "${KIND[$1]}" = postfix ] || return 0
  for _ in $(seq 1200); do [ "$(delivered "$1")" -ge "${SENT[$1]}" ] && return 0; sleep 0.1; done; }
RES=$TMP/results
run() { # round series name
  local s=1 m=$N d="" name=$3 label=$2
  case $2 in 20 | content) s=20 ;; 1) m=$N1 ;; 100) s=100 d=-d ;; esac
  local ld c0 t0 t1 c1
  ld=$(cut -d' ' -f1 /proc/loadavg)
  c0=$(cpu_of "$name"); t0=$(date +%s.%N)
  send "$name" "$s" "$m" $d
  t1=$(date +%s.%N); drain "$name"; c1=$(cpu_of "$name")
  awk -v r="$1" -v se="$label" -v n="$m" -v el="$(echo "$t1 - $t0" | bc)" -v c=$((c1 - c0)) -v hz="$HZ" -v name="$name" -v ld="$ld" \
    'BEGIN{printf "%s %s %s %.0f %.0f %s\n", r, se, name, n/el, c/hz/n*1e6, ld}' | tee -a "$RES" |
    awk '{printf "  round %s  %-8s %-13s %6d msgs/s  %6d us CPU/msg  (load %s)\n", $1, $2, $3, $4, $5, $6}'
}
servers_of() { # series
  if [ "$1" = content ]; then echo postvakt postvakt-cs; return; fi
  for n in "${NAMES[@]}"; do [ "$n" = postvakt-cs ] || echo "$n"; done; }
ratios() { # round: the round's postvakt/peer ratios
  awk -v r="$1" '$1 == r { v[$2 " " $3] = $4; se[$2] = 1 }
    END { for (s in se) for (k in v) { split(k, a, " "); if (a[1] != s || a[2] !~ /^postvakt/ || a[2] == "postvakt-cs") continue
        line = ""
        if ((s " postfix") in v) line = line sprintf("  /postfix %.2f×", v[k] / v[s " postfix"])
        if ((s " go-fsync") in v) line = line sprintf("  /go-fsync %.2f×", v[k] / v[s " go-fsync"])
        if ((s " go-sqlite") in v) line = line sprintf("  /go-sqlite %.2f×", v[k] / v[s " go-sqlite"])
        if ((s " go-discard") in v) line = line sprintf("  /go-discard %.2f×", v[k] / v[s " go-discard"])
        if (s == "content" && (s " postvakt-cs") in v) line = line sprintf("  content scanning costs %.0f %%", 100 * (1 - v[s " postvakt-cs"] / v[k]))
        if (line != "") printf "  round %s  %-8s %-13s%s\n", r, s, a[2], line } }' "$RES" | sort
}

echo "postvakt: $POSTVAKT ($("$POSTVAKT" version 2>/dev/null | head -1))${OLD:+; old: $OLD}; servers: ${NAMES[*]}"
echo "series: $SERIES; $ROUNDS rounds; $N messages ($N1 for one session) of $LEN bytes; data under $TMP"
for n in "${NAMES[@]}"; do send "$n" 20 "$WARM"; drain "$n"; done
if [ -n "${SOAK:-}" ]; then
  rss() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/${PID[$1]}/status"; }
  declare -A RSS0
  sample() { # phase
    local line="" n; for n in "${NAMES[@]}"; do
      local r; r=$(rss "$n"); [ -n "${RSS0[$n]:-}" ] || RSS0[$n]=$r
      line="$line  $n ${r} MiB ($(awk -v a="$r" -v b="${RSS0[$n]}" 'BEGIN { printf "%+.0f %%", 100 * (a - b) / b }'), ${SENT[$n]} sent)"
    done; printf "%s %-5s%s\n" "$(date -u +%H:%M:%S)" "$1" "$line"; }
  SAMPLE=${SAMPLE:-5}; sample warm; last=$SECONDS
  while [ "${SENT[postvakt]}" -lt "$((SOAK + WARM))" ]; do
    jobs=(); for n in "${NAMES[@]}"; do send "$n" 20 "$N" & jobs+=($!); done; wait "${jobs[@]}"
    for n in "${NAMES[@]}"; do SENT[$n]=$((${SENT[$n]} + N)); done # the subshells' counts
    [ $((SECONDS - last)) -lt "$SAMPLE" ] || { sample load; last=$SECONDS; }
  done
  end=$((SECONDS + ${SOAK_IDLE:-600}))
  while [ $SECONDS -lt $end ]; do sleep "$SAMPLE"; sample idle; done
  for n in "${NAMES[@]}"; do got=$(delivered "$n"); echo "stored $n: $got of ${SENT[$n]}"; [ "$got" -ge "${SENT[$n]}" ] || exit 1; done
  exit 0
fi
: >"$RES"
for r in $(seq "$ROUNDS"); do
  for se in $SERIES; do for n in $(servers_of "$se"); do run "$r" "$se" "$n"; done; done
  ratios "$r"
done

echo "medians over $ROUNDS rounds:"
med() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for se in $SERIES; do for n in $(servers_of "$se"); do
  col() { awk -v se="$se" -v n="$n" -v f="$1" '$2 == se && $3 == n { print $f }' "$RES"; }
  printf "  %-8s %-13s %6.0f msgs/s  %6.0f us CPU/msg  (load %s–%s)\n" "$se" "$n" "$(col 4 | med)" "$(col 5 | med)" "$(col 6 | sort -n | head -1)" "$(col 6 | sort -n | tail -1)"
done; done | tee "$TMP/medians"
awk '{ v[$1 " " $2] = $3 } END { for (k in v) { split(k, a, " "); s = a[1]; n = a[2]
    if (n !~ /^postvakt/ || n == "postvakt-cs") continue; line = ""
    if ((s " postfix") in v) line = line sprintf("  /postfix %.2f×", v[k] / v[s " postfix"])
    if ((s " go-fsync") in v) line = line sprintf("  /go-fsync %.2f×", v[k] / v[s " go-fsync"])
    if ((s " go-sqlite") in v) line = line sprintf("  /go-sqlite %.2f×", v[k] / v[s " go-sqlite"])
    if (s == "content" && (s " postvakt-cs") in v) line = line sprintf("  content scanning costs %.0f %%", 100 * (1 - v[s " postvakt-cs"] / v[k]))
    if (line != "") printf "  median  %-8s %-13s%s\n", s, n, line } }' "$TMP/medians" | sort

fail=0
echo "stored (every acknowledged message must be in the server's store):"
for n in "${NAMES[@]}"; do
  [ "$n" = go-discard ] && continue
  got=$(delivered "$n"); printf "  %-13s %8d of %8d %s\n" "$n" "$got" "${SENT[$n]}" "$([ "$got" -ge "${SENT[$n]}" ] && echo ok || echo MISSING)"
  [ "$got" -ge "${SENT[$n]}" ] || fail=1
done
exit $fail
