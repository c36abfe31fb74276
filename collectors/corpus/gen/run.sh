#!/bin/sh
# run.sh — regenerate both corpora (Debian 12, as root). About 25 minutes.
#   sh collectors/corpus/gen/run.sh            (or: make corpus)
# SEED and DURATION (seconds of Postfix traffic) may be set in the environment.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$(dirname "$here")
SEED=${SEED:-18}
DURATION=${DURATION:-1000}
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
sh "$here/install-deps.sh"
rm -rf "$out/postfix" "$out/exim"
python3 "$here/postfix_corpus.py" --out "$out/postfix" --seed "$SEED" --duration "$DURATION"
python3 "$here/exim_corpus.py" --out "$out/exim" --seed "$SEED"
python3 "$here/crosscheck.py" "$out/postfix"
python3 "$here/crosscheck.py" "$out/exim"
