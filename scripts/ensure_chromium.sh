#!/bin/sh
# Make Debian's Chromium available for the browser tests (tests/browser/), run by `make test`.
# As root and without Chromium: install it through apt. Otherwise say the one command
# that installs it; the browser tests then skip with that reason (and fail under CI=true).
# Nothing here downloads a browser build of its own: only Debian's package is used.
set -u
CHROMIUM="${RPKIT_CHROMIUM:-/usr/bin/chromium}"
HINT="sudo apt-get install -y chromium"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Chromium is missing: installing Debian's chromium package for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
        echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
        exit 0
    fi
    echo "apt-get could not install Chromium, so the browser tests will skip. Install it with:"
else
    echo "Chromium is missing, so the browser tests will skip. Install it with:"
fi
echo "    $HINT"
