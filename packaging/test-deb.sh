#!/bin/sh
# Installs the postvakt Debian package on this machine and checks it
# (`make deb-test`; CI runs it): the user and the data directory are created,
# the unit passes `systemd-analyze verify`, the installed binary serves with
# the installed configuration as the postvakt user and binds a port below
# 1024 through the ambient capability only, sd_notify READY=1 reaches a
# listening socket, `dpkg -r` keeps the data, the user and the configuration,
# `dpkg -P` keeps the data. Root only; it installs and removes the package and,
# at the end, the postvakt user and /var/lib/postvakt.
set -eu
deb=$(realpath "${1:?usage: test-deb.sh postvakt_VERSION_ARCH.deb}")
[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root"; exit 1; }
if dpkg-query -W postvakt >/dev/null 2>&1 || getent passwd postvakt >/dev/null || [ -e /var/lib/postvakt ]; then
	echo "test-deb: postvakt is already installed here (package, user or /var/lib/postvakt); refusing to touch it"
	exit 1
fi
fail() { echo "test-deb: FAIL: $*"; exit 1; }
ok() { echo "test-deb: ok: $*"; }
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	dpkg -P postvakt >/dev/null 2>&1 || true
	rm -rf /var/lib/postvakt "$work"
	if getent passwd postvakt >/dev/null; then deluser --quiet --system postvakt >/dev/null 2>&1 || userdel postvakt || true; fi
	if getent group postvakt >/dev/null; then delgroup --quiet --system postvakt >/dev/null 2>&1 || groupdel postvakt || true; fi
}
trap cleanup EXIT

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
ok "dpkg -i $deb"
getent passwd postvakt | grep -q ':/var/lib/postvakt:/usr/sbin/nologin$' || fail "system user postvakt (home /var/lib/postvakt, nologin)"
[ "$(stat -c %U:%G:%a /var/lib/postvakt)" = postvakt:postvakt:750 ] || fail "/var/lib/postvakt is $(stat -c %U:%G:%a /var/lib/postvakt)"
[ "$(stat -c %U:%G:%a /etc/postvakt/postvakt.yaml)" = root:postvakt:640 ] || fail "/etc/postvakt/postvakt.yaml is $(stat -c %U:%G:%a /etc/postvakt/postvakt.yaml)"
[ "$(stat -c %U:%a /etc/postvakt/credentials)" = root:700 ] || fail "/etc/postvakt/credentials"
grep -qx /etc/postvakt/postvakt.yaml /var/lib/dpkg/info/postvakt.conffiles || fail "postvakt.yaml is not a conffile"
ok "user, data directory, conffile, credentials directory"

if command -v systemd-analyze >/dev/null; then
	# verify checks the unit's syntax and that ExecStart's binary exists.
	out=$(systemd-analyze verify /usr/lib/systemd/system/postvakt.service 2>&1) || { echo "$out"; fail "systemd-analyze verify"; }
	[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify warns"; }
	ok "systemd-analyze verify postvakt.service"
	score=$(systemd-analyze security --offline=true /usr/lib/systemd/system/postvakt.service 2>/dev/null | tail -1 || true)
	[ -n "$score" ] && echo "test-deb: $score"
else
	echo "test-deb: systemd-analyze missing: unit not verified"
fi
setpriv --reuid=postvakt --regid=postvakt --init-groups /usr/bin/postvakt check-config --config /etc/postvakt/postvakt.yaml >/dev/null || fail "check-config as postvakt"
ok "check-config as the postvakt user"

# Serve as the unit does (user, capability, working directory), on a port
# below 1024, with a notification socket listening.
port=$(python3 -c '
import socket
for p in range(1023, 600, -1):
    try:
        s = socket.socket(); s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        pass')
python3 - "$work/notify.sock" "$work/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
import os; os.chmod(sys.argv[1], 0o777)
with open(sys.argv[2], "a") as f:
    while True:
        m = s.recv(4096).decode()
        f.write(m.replace("\n", " ") + "\n"); f.flush()
        if "STOPPING=1" in m: break
PY
listener=$!
sleep 1
chmod 755 "$work"
cd /var/lib/postvakt
env -i PATH=/usr/bin:/bin NOTIFY_SOCKET="$work/notify.sock" POSTVAKT_HTTP_LISTEN=127.0.0.1:$port \
	setpriv --reuid=postvakt --regid=postvakt --init-groups --inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
	/usr/bin/postvakt serve --config /etc/postvakt/postvakt.yaml >"$work/serve.log" 2>&1 &
pid=$!
cd /
i=0
until grep -q READY=1 "$work/notify.log" 2>/dev/null; do
	i=$((i+1)); [ $i -lt 300 ] || { cat "$work/serve.log"; fail "no READY=1 within 30 s"; }
	sleep 0.1
done
ok "READY=1 on NOTIFY_SOCKET: $(grep READY=1 "$work/notify.log")"
python3 -c "import urllib.request,sys; r=urllib.request.urlopen('http://127.0.0.1:$port/healthz'); sys.exit(r.status!=200)" || fail "/healthz on port $port"
[ "$(stat -c %U /proc/$pid)" = postvakt ] || fail "serve does not run as postvakt"
ok "serving on 127.0.0.1:$port (below 1024) as user postvakt"
kill -TERM "$pid"; wait "$pid" || fail "serve exit status after SIGTERM"
pid=
wait "$listener" || true
grep -q STOPPING=1 "$work/notify.log" || fail "no STOPPING=1"
ok "STOPPING=1 on SIGTERM"
ls /var/lib/postvakt/*.db >/dev/null 2>&1 || fail "serve left no database in /var/lib/postvakt"
echo "keep me" >/var/lib/postvakt/marker
chown postvakt:postvakt /var/lib/postvakt/marker

dpkg -r postvakt >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -r"; }
[ ! -e /usr/bin/postvakt ] || fail "dpkg -r left the binary"
[ -f /var/lib/postvakt/marker ] && ls /var/lib/postvakt/*.db >/dev/null || fail "dpkg -r removed the data"
getent passwd postvakt >/dev/null || fail "dpkg -r removed the user"
[ -f /etc/postvakt/postvakt.yaml ] || fail "dpkg -r removed the configuration"
ok "dpkg -r keeps /var/lib/postvakt, the user and /etc/postvakt/postvakt.yaml"

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "reinstall"; }
[ "$(stat -c %U /var/lib/postvakt/marker)" = postvakt ] || fail "reinstall changed the data"
ok "reinstall over kept data"

dpkg -P postvakt >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -P"; }
[ ! -e /etc/postvakt/postvakt.yaml ] || fail "dpkg -P kept the configuration"
[ -f /var/lib/postvakt/marker ] || fail "dpkg -P removed the data (documented to keep it)"
ok "dpkg -P removes the configuration and keeps /var/lib/postvakt"
echo "test-deb: PASS"
