#!/bin/sh
# nshold.sh WORKDIR HOST — run inside `unshare -m --propagation private`.
#
# Turns the new mount namespace into one simulated host: /dev/log points at this
# host's socket of the generator's private rsyslog, /etc/hosts is the generator's
# name plan, and /etc/postfix, /etc/amavis, /etc/spamassassin are the host's own
# copies when it has them. Nothing outside the namespace changes (the system has
# no /dev/log of its own to take over, and other programs keep theirs).
# Prints "ready" and then holds the namespace open until killed; the daemons of
# the host are started inside it with `nsenter -t PID -m`.
set -eu
W=$1
H=$2
D=$W/ns/$H
mkdir -p "$D/olddev"
mount --rbind /dev "$D/olddev"
mount -t tmpfs -o mode=0755,size=1m tmpfs /dev
for n in null zero full random urandom tty; do
	touch "/dev/$n"
	mount --bind "$D/olddev/$n" "/dev/$n"
done
mkdir /dev/pts /dev/shm
mount --rbind "$D/olddev/pts" /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s "$W/run/log-$H.sock" /dev/log
mount --bind "$W/etc/hosts" /etc/hosts
if [ -d "$W/$H/postfix" ]; then
	mount --bind "$W/$H/postfix" /etc/postfix
fi
if [ -d "$W/$H/etc-amavis" ]; then
	mount --bind "$W/$H/etc-amavis" /etc/amavis
	mount --bind "$W/etc/spamassassin" /etc/spamassassin
fi
if [ -x "$W/root/usr/sbin/exim4" ]; then
	# Exim re-executes itself by its compiled-in path (/usr/sbin/exim4) with its compiled-in
	# configuration (/etc/exim4/exim4.conf): show it the unpacked binary, and an
	# overlay of /etc (changes land in $W/etc-upper) that holds the generator's configuration
	mount --bind "$W/root/usr/sbin" /usr/sbin
	mkdir -p "$W/etc-upper" "$W/etc-work"
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$W/etc-upper,workdir=$W/etc-work" /etc
	mkdir -p /etc/exim4
	cp "$W/exim4.conf" /etc/exim4/exim4.conf
	cp "$W/etc/hosts" /etc/hosts
fi
echo ready
exec sleep 1000000
