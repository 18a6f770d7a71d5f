#!/usr/bin/env bash
# A Docker engine and a local base image for the container test tier (tests/containers).
#
# Installs docker.io, Compose and debootstrap when missing, starts dockerd in the background
# when no engine answers, and builds the base image once: Debian bookworm (minbase) with python3 and
# this host's CA bundle, so pip works inside image builds wherever the host's does. The image
# is cached by its tag; a second run only checks and prints. Progress goes to stderr; the one
# line on stdout is the tag to pass as BASE_IMAGE:
#
#   export BASE_IMAGE="$(bash .ci/docker-setup.sh)"
set -euo pipefail

TAG="${WIFLAB_BASE_IMAGE:-wiflab-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/wiflab-dockerd.log}"
ENGINE_WAIT_SECONDS=60

say() { echo "docker-setup: $*" >&2; }
engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# Compose from Debian: bookworm packages v1 (docker-compose 1.29), which reads compose.yaml
# (tests/containers/test_compose.py runs it); trixie and later package v2 as the
# docker-compose-v2 plugin (`docker compose`). Whichever this release has.
compose_answers() { docker-compose version >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; }
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null || ! compose_answers; then
  apt-get update -qq >&2
  compose=docker-compose
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then compose=docker-compose-v2; fi
  say "installing docker.io, $compose and debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io "$compose" debootstrap >&2
fi

if ! engine_answers; then
  # A dockerd that died with the machine's last session leaves its pid file, and a new one
  # refuses to start while it is there.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  say "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq "$ENGINE_WAIT_SECONDS"); do
    engine_answers && break
    sleep 1
  done
  if ! engine_answers; then
    say "dockerd did not answer within ${ENGINE_WAIT_SECONDS}s; last lines of its log:"
    tail -n 20 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
fi

if docker image inspect "$TAG" >/dev/null 2>&1; then
  say "base image $TAG already built"
else
  say "building base image $TAG with debootstrap (about a minute)"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$MIRROR" >&2
  # The host's bundle: pip inside builds must trust what the host's pip trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$TAG" >&2
fi

echo "$TAG"
