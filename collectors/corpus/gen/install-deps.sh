#!/bin/sh
# install-deps.sh — the Debian 12 packages the corpus generators drive (run as root).
# Services must not start on install (a stock postfix/postgrey/amavis/dovecot would listen on
# the machine's interfaces): a temporary policy-rc.d forbids it when none is in place.
set -eu
export DEBIAN_FRONTEND=noninteractive
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -q --no-install-recommends \
	postfix postgrey amavisd-new spamassassin clamav-daemon \
	dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd \
	rsyslog python3 ssl-cert util-linux iproute2 >/dev/null
if [ -n "$made_policy" ]; then
	rm -f /usr/sbin/policy-rc.d
fi
# Exim is not installed (it conflicts with postfix): exim_corpus.py downloads and unpacks it.
