#!/usr/bin/env bash
# postfix.sh — the Postfix peer of engine/loadgen/bench.sh: Debian's
# Postfix (apt-get install postfix) as its own instance with every file
# under DIR (config, queue, data, the delivered Maildir), smtpd on
# 127.0.0.1:PORT, no chroot, no TLS, no DNS lookups of clients, and
# virtual(8) delivery of uni.example into DIR/vmail/uni.example/anna/
# (a Maildir, one fsync'd file per message) — the same job postvakt does
# when it stores a message in a local mailbox. The system's
# /etc/postfix is not touched. Needs root (Postfix drops to the
# postfix user).
#
#   engine/loadgen/baseline/postfix.sh start DIR PORT   # prints the master's pid
#   engine/loadgen/baseline/postfix.sh count DIR        # messages delivered
#   engine/loadgen/baseline/postfix.sh stop  DIR
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { sed -n 2,16p "$0"; exit 2; }
case $cmd in
start)
  port=${3:?port}
  id -u postfix >/dev/null && command -v postfix >/dev/null || { echo "postfix.sh: Postfix is not installed" >&2; exit 1; }
  rm -rf "$dir"; mkdir -p "$dir/etc" "$dir/spool" "$dir/lib" "$dir/vmail"
  chown postfix "$dir/lib"; chown -R postfix "$dir/vmail"
  uid=$(id -u postfix); gid=$(id -g postfix)
  cat >"$dir/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/lib
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.invalid
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_tls_security_level = none
smtpd_peername_lookup = no
default_process_limit = 100
virtual_mailbox_domains = uni.example
virtual_mailbox_maps = inline:{ anna@uni.example=uni.example/anna/ }
virtual_mailbox_base = $dir/vmail
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_transport = virtual
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir
alternate_config_directories = $dir/etc
CF
  cat >"$dir/etc/master.cf" <<'CF'
127.0.0.1:PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
  sed -i "s/PORT/$port/" "$dir/etc/master.cf"
  # postfix(1) prints its errors only to a terminal (else to syslog): script(1) gives it one
  script -qec "postfix -c $dir/etc check" /dev/null >&2
  script -qec "postfix -c $dir/etc start" /dev/null >/dev/null || { script -qec "postfix -c $dir/etc start" /dev/null >&2; exit 1; }
  for _ in $(seq 50); do [ -s "$dir/spool/pid/master.pid" ] && break; sleep 0.1; done
  tr -d ' ' <"$dir/spool/pid/master.pid"
  ;;
count)
  find "$dir/vmail/uni.example/anna/new" "$dir/vmail/uni.example/anna/cur" -type f 2>/dev/null | wc -l
  ;;
stop)
  [ -f "$dir/etc/main.cf" ] && postfix -c "$dir/etc" stop >/dev/null 2>&1 || true
  ;;
*) sed -n 2,16p "$0"; exit 2 ;;
esac
