#!/usr/bin/env bash
# What the sample clients (clients/) need on a fresh machine, so their tests run rather than
# skip: curl and jq (shell, gcloud), Node.js and the Node client's locked packages, Go with
# Debian's cloud.google.com/go/compute/metadata, x/oauth2 and google.golang.org/api and Java
# with Debian's google-auth-library-java (clients/go and clients/java), and the gcloud CLI,
# which must already be installed (Google's own package repository is not one this setup
# reaches). Safe to run again. Then run the suite with WIFLAB_REQUIRE_CLIENTS=1, so a
# client whose tool is missing fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "clients-setup: $*" >&2; }

missing=()
for tool in curl jq; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
# Debian's nodejs (18 on bookworm) is new enough: the Node client needs 18 or later.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# The metadata clients (e2e/test_e2e_seed_002_metadata_clients.py), from Debian's packages.
command -v go >/dev/null || missing+=(golang-go)
[ -d /usr/share/gocode/src/cloud.google.com/go/compute/metadata ] ||
  missing+=(golang-google-cloud-compute-metadata-dev)
# The Go chain (clients/go/chain.go, e2e/test_sample_clients_intercept.py): x/oauth2's
# external accounts and google.golang.org/api's impersonate and idtoken, a GOPATH tree.
[ -d /usr/share/gocode/src/golang.org/x/oauth2/google ] ||
  missing+=(golang-golang-x-oauth2-google-dev)
[ -d /usr/share/gocode/src/google.golang.org/api/impersonate ] || missing+=(golang-google-api-dev)
# A JDK: clients/java/Metadata.java runs as a single-file source program (javac inside).
command -v javac >/dev/null || missing+=(default-jdk-headless)
# keytool makes the Java chain's truststore (clients/java/proxy-flags.sh); Java's own roots.
command -v keytool >/dev/null || missing+=(default-jdk-headless)
[ -f /etc/ssl/certs/java/cacerts ] || missing+=(ca-certificates-java)
bash clients/java/classpath.sh >/dev/null 2>&1 || missing+=(libgoogle-auth-java libgrpc-java)
# Intercept mode: tests/intercept/test_ca.py checks the CA's name constraints with openssl too.
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  bash .ci/apt-install.sh "${missing[@]}"
fi

say "installing the Node client's packages (npm ci, from clients/node/package-lock.json)"
npm ci --prefix clients/node --no-audit --no-fund --loglevel=error >&2
# GitHub's own @actions/core for e2e/test_e2e_github_action.py (getIDToken against the IdP).
say "installing @actions/core (npm ci, from e2e/github_oidc/package-lock.json)"
npm ci --prefix e2e/github_oidc --no-audit --no-fund --loglevel=error >&2

if ! command -v gcloud >/dev/null; then
  say "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
  exit 1
fi
say "node $(node --version), $(go version), $(java -version 2>&1 | head -1)"
say "$(gcloud --version 2>/dev/null | head -1), $(jq --version)"
