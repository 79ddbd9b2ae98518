#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (never a downloaded browser build). Installs it when it is missing.
# Used by `make test`.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  echo "installing Chromium for the browser tests…"
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null; }
fi
[ -x /usr/bin/chromium ] || {
  echo "Chromium is missing at /usr/bin/chromium and could not be installed: apt-get install chromium" >&2
  exit 1
}
