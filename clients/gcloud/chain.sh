#!/usr/bin/env bash
# The chain with the gcloud CLI: the config gcloud writes, the federated token gcloud gets for
# it, and the service account's ID token gcloud mints by impersonation.
#
#   subject token --STS--> federated token --generateAccessToken + generateIdToken-->
#   Google-signed ID token --> the protected Cloud Run service
#
# Settings are read from the environment (clients/README.md). Run: clients/gcloud/chain.sh
# It logs no account in and sets no gcloud property: your gcloud configuration stays as it was.
set -euo pipefail

# shellcheck source=clients/gcloud/common.sh
source "$(dirname "$0")/common.sh"

echo "== (1) the config, as gcloud writes it =="
# From the provider's resource name and where the subject token is, both read here from
# GOOGLE_APPLICATION_CREDENTIALS: on Google Cloud the file written is the same.
source_=$(jq -c .credential_source "$GOOGLE_APPLICATION_CREDENTIALS")
if file=$(jq -er .file <<<"$source_"); then
  from=(--credential-source-file="$file")
elif source_url=$(jq -er .url <<<"$source_"); then
  from=(--credential-source-url="$source_url")
else
  fail "$GOOGLE_APPLICATION_CREDENTIALS: this client reads file- and url-sourced configs only"
fi
if field=$(jq -er .format.subject_token_field_name <<<"$source_"); then
  from+=(--credential-source-type=json --credential-source-field-name="$field")
fi
provider=$(jq -r .audience "$GOOGLE_APPLICATION_CREDENTIALS")
"${gcloud[@]}" --no-user-output-enabled iam workload-identity-pools create-cred-config \
  "${provider#//iam.googleapis.com/}" \
  "${from[@]}" --output-file="$work/config.json"
if [ -n "${WIFLAB_ENDPOINTS:-}" ]; then
  # The local stack. create-cred-config always writes Google's STS URL and gcloud has no
  # endpoint override for STS: the config's token_url is the only way to point it elsewhere.
  # IAM Credentials has one (api_endpoint_overrides/iamcredentials). Without
  # GOOGLE_CLOUD_PROJECT, gcloud asks Cloud Resource Manager (a fixed Google URL) for one.
  jq --arg sts "$(jq -r .sts.token_url "$WIFLAB_ENDPOINTS")" '.token_url = $sts' \
    "$work/config.json" >"$work/local.json"
  mv "$work/local.json" "$work/config.json"
  iamcredentials=$(jq -r .iamcredentials.api_endpoint "$WIFLAB_ENDPOINTS")
  export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS="$iamcredentials/"  # with its final /
  GOOGLE_CLOUD_PROJECT=$(jq -r .project.id "$WIFLAB_ENDPOINTS")
  export GOOGLE_CLOUD_PROJECT
fi
jq . "$work/config.json"

echo "== (2) the federated token: gcloud exchanges the subject token at STS =="
# Application Default Credentials read the config; no `gcloud auth login` needed
# (clients/README.md says why this script does without it).
if ! federated=$(GOOGLE_APPLICATION_CREDENTIALS="$work/config.json" \
  "${gcloud[@]}" auth application-default print-access-token 2>"$work/stderr"); then
  # google-auth's exception text, with STS's JSON answer inside it
  why=$(grep -o '{"error":"[^}]*}' "$work/stderr" | jq -r '"\(.error): \(.error_description)"')
  [ -n "$why" ] || fail "$(gcloud_error "$work/stderr")"  # not STS's answer
  fail "STS refused the token exchange: $why" \
    "Check the provider's attribute condition and mapping against the subject token's claims" \
    "(aud, iss, exp)."
fi
echo "federated token: $(short "$federated")"

echo "== (3) the account's ID token: gcloud impersonates the account with the federated token =="
# gcloud calls generateAccessToken, then generateIdToken for the audience: the federated
# principal needs both getAccessToken and getOpenIdToken (roles/iam.workloadIdentityUser).
# The token file is a pipe, so the token is on no command line and in no file.
if ! id_token=$("${gcloud[@]}" auth print-identity-token --access-token-file=<(echo "$federated") \
  --impersonate-service-account="$account" --include-email --audiences="$audience" \
  2>"$work/stderr"); then
  # gcloud's text: "STATUS: Failed to impersonate [SA]. <advice> <Google's message> <note>"
  why=$(gcloud_error "$work/stderr")
  message=$(grep -o "Permission '[^']*' denied on resource (or it may not exist)\." <<<"$why") \
    || message=${why#*: }
  fail "IAM Credentials refused: ${why%%:*}: $message" \
    "Check that the federated principal holds roles/iam.workloadIdentityUser on $account."
fi
echo "ID token: $(short "$id_token")"
claims "$id_token"

echo "== (4) the service, once Cloud Run has checked the ID token (signature, aud, run.invoker) =="
call_service "$id_token"
