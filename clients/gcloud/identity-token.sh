#!/usr/bin/env bash
# The chain with the gcloud CLI the usual way, with no endpoint override anywhere: what runs
# on Google Cloud runs here unchanged.
#
#   gcloud auth login --cred-file=CONFIG      (the external-account config, as create-cred-config
#                                              writes it: Google's STS URL)
#   gcloud auth print-access-token            (gcloud exchanges the subject token at STS)
#   gcloud auth print-identity-token --impersonate-service-account=SA --audiences=URL
#                                             (generateAccessToken, then generateIdToken)
#   curl URL/dump with the ID token           (the protected Cloud Run service)
#
# Settings are read from the environment (clients/README.md): GOOGLE_APPLICATION_CREDENTIALS,
# WIF_SERVICE_ACCOUNT, WIF_SERVICE_URL, WIF_AUDIENCE (optional). gcloud runs in a throwaway
# configuration folder (CLOUDSDK_CONFIG), so the account it logs in is never added to yours.
# Against the local stack, run it inside `eval "$(wiflab env)"`: gcloud takes the proxy from
# HTTPS_PROXY (or CLOUDSDK_PROXY_*) and the CA from CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE; curl
# from HTTPS_PROXY and CURL_CA_BUNDLE.
#
#   clients/gcloud/identity-token.sh
set -euo pipefail

# shellcheck source=clients/gcloud/common.sh
source "$(dirname "$0")/common.sh"
export CLOUDSDK_CONFIG="$work/gcloud" CLOUDSDK_CORE_DISABLE_PROMPTS=1

echo "== (1) gcloud logs the external account in (a throwaway configuration) =="
if ! "${gcloud[@]}" auth login --cred-file="$GOOGLE_APPLICATION_CREDENTIALS" \
  2>"$work/stderr" >/dev/null; then
  fail "gcloud auth login --cred-file: $(gcloud_error "$work/stderr")"
fi
"${gcloud[@]}" auth list --format='value(account)'

echo "== (2) the federated token: gcloud exchanges the subject token at STS =="
if ! federated=$("${gcloud[@]}" auth print-access-token 2>"$work/stderr"); then
  fail "gcloud auth print-access-token: $(gcloud_error "$work/stderr")"
fi
echo "federated token: $(short "$federated")"

echo "== (3) the account's ID token: gcloud impersonates the account =="
# generateAccessToken, then generateIdToken for the audience: the federated principal needs
# getAccessToken and getOpenIdToken (roles/iam.workloadIdentityUser has both).
if ! id_token=$("${gcloud[@]}" auth print-identity-token \
  --impersonate-service-account="$account" --include-email --audiences="$audience" \
  2>"$work/stderr"); then
  fail "gcloud auth print-identity-token: $(gcloud_error "$work/stderr")"
fi
echo "ID token: $(short "$id_token")"
claims "$id_token" | jq -c '{iss, aud, email}'

echo "== (4) the service, once Cloud Run has checked the ID token (signature, aud, run.invoker) =="
call_service "$id_token"
