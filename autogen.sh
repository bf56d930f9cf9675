#!/bin/sh
# Regenerate the autotools build system: ./autogen.sh && ./configure && make
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf --force --install --verbose >/dev/null
echo "autogen.sh: now run ./configure"
