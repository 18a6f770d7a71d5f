#!/usr/bin/env bash
# What the flow explorer's browser tests (tests/explorer) need on a fresh machine: Debian's
# headless Chromium and its driver, which selenium (the dev extra) drives at /usr/bin/chromium
# and /usr/bin/chromedriver. No browser build is downloaded. Safe to run again. With CI=true
# the tests then fail instead of skipping when the browser is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "browser-setup: $*" >&2; }

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  bash .ci/apt-install.sh "${missing[@]}"
fi
say "$(chromium --version 2>/dev/null | head -1), $(chromedriver --version 2>/dev/null | head -1)"
