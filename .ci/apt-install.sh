#!/usr/bin/env bash
# Install Debian packages (as root, or through sudo): .ci/apt-install.sh PACKAGE...
set -euo pipefail
(($#)) || exit 0
sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >&2
