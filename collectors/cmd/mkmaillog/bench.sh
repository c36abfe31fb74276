#!/usr/bin/env bash
# bench.sh — the collectors' side-by-side measurement (docs/performance.md,
# "Collectors"). Run from the repository root:
#
#   PG_URL=postgres://postgres@127.0.0.1:55432/pvbench?sslmode=disable \
#     bash collectors/cmd/mkmaillog/bench.sh /tmp/mail-1m.log
#
# Needs the Debian packages pflogsumm, prometheus-postfix-exporter and
# mtail, python3, and (for the import) an empty PostgreSQL database.
# Prints wall-clock and CPU (user+sys) seconds per tool; on a shared
# machine CPU seconds are the fairer comparison.
set -euo pipefail
LOG=${1:-/tmp/mail-1m.log}
[ -f "$LOG" ] || go run ./collectors/cmd/mkmaillog -sample ../shared/samples/real-logs -lines 1000000 -o "$LOG"
LINES=$(wc -l <"$LOG")
go build -o /tmp/postvakt-bench ./cmd/postvakt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

report() { # name wall user sys
  awk -v n="$1" -v w="$2" -v u="$3" -v s="$4" -v l="$LINES" \
    'BEGIN { c = u + s; printf "%-40s wall %7.2f s  cpu %7.2f s  %9.0f lines/s (wall)  %9.0f lines/s (cpu)\n", n, w, c, l / w, l / c }'
}
timed() { # name cmd…
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$TMP/t" "$@" >"$TMP/out" 2>"$TMP/err"
  read -r w u s <"$TMP/t"
  report "$name" "$w" "$u" "$s"
}

echo "log: $LOG ($LINES lines), $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"
timed "postvakt import --dry-run (parse+correlate)" /tmp/postvakt-bench import --dry-run --timezone UTC "$LOG"
timed "pflogsumm" pflogsumm "$LOG"
mkdir -p "$TMP/progs" && cp /usr/share/doc/mtail/examples/postfix.mtail "$TMP/progs/"
timed "mtail --one_shot (postfix.mtail)" mtail --one_shot --one_shot_format=prometheus --progs "$TMP/progs" --logs "$LOG"

# prometheus-postfix-exporter only follows a file from its end: start it on
# an empty file, append the log, and wait until its counters stop moving.
python3 - "$LOG" "$TMP/exporter.log" <<'PY'
import os, subprocess, sys, time, urllib.request
src, log = sys.argv[1], sys.argv[2]
open(log, "w").close()
p = subprocess.Popen(["prometheus-postfix-exporter", "--web.listen-address=127.0.0.1:19154",
                      "--postfix.logfile_path=" + log, "--postfix.showq_path=/nonexistent"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def scrape():
    try:
        body = urllib.request.urlopen("http://127.0.0.1:19154/metrics", timeout=5).read().decode()
    except Exception:
        return None
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines()
               if l.startswith("postfix_") and "_bucket" not in l and "showq" not in l and not l.startswith("postfix_up"))
def cpu():
    parts = open(f"/proc/{p.pid}/stat").read().split(")")[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
for _ in range(100):
    if scrape() is not None: break
    time.sleep(0.1)
base, c0, t0 = scrape(), cpu(), time.time()
subprocess.run(["sh", "-c", f"cat '{src}' >> '{log}'"], check=True)
last, stable, tlast = base, 0, t0
while time.time() - t0 < 900:
    time.sleep(0.5)
    v = scrape()
    if v != last:
        last, stable, tlast = v, 0, time.time()
    elif last != base:
        stable += 1
        if stable >= 6: break
c = cpu() - c0
lines = sum(1 for _ in open(src, "rb"))
w = tlast - t0
print(f"{'prometheus-postfix-exporter':40s} wall {w:7.2f} s  cpu {c:7.2f} s  {lines / w:9.0f} lines/s (wall)  {lines / c:9.0f} lines/s (cpu)")
p.terminate(); p.wait()
PY

if [ -n "${PG_URL:-}" ]; then
  printf 'data_dir: %s\ndatabase:\n  url: %s\ncollectors:\n  timezone: UTC\n' "$TMP/data" "$PG_URL" >"$TMP/pg.yaml"
  # the database's collation decides how fast text btrees compare (the
  # identifier columns are COLLATE "C" since 20261123040100; see docs)
  echo "PostgreSQL: $(psql "$PG_URL" -Atc "SELECT current_setting('server_version') || ', lc_collate ' || current_setting('lc_collate')" 2>/dev/null || echo '(psql not found)')"
  /tmp/postvakt-bench migrate up --config "$TMP/pg.yaml" >/dev/null
  timed "postvakt import into PostgreSQL" /tmp/postvakt-bench import --config "$TMP/pg.yaml" --no-rollups "$LOG"
  cat "$TMP/out"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
