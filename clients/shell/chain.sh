#!/usr/bin/env bash
# Seed 004's chain by hand, with curl and jq only: every request the client libraries make
# for you, in order, each printed with what it sent and the token it got back.
#
#   subject token --(1) STS--> federated token --(2) generateIdToken--> Google-signed ID token
#   --(3)--> the protected Cloud Run service
#
# Settings are read from the environment (clients/README.md). Run: clients/shell/chain.sh
set -euo pipefail

fail() { echo "error: $*" >&2; exit 1; }
setting() { [ -n "${!1:-}" ] || fail "set $1 ($2); see clients/README.md"; }
# Enough of a token to recognise it, never enough to use it.
short() { echo "${1:0:20}...(${#1} chars)"; }
# A JWT's claims: the middle part, base64url-encoded JSON.
claims() { jq -R 'split(".")[1] | gsub("-"; "+") | gsub("_"; "/") | @base64d | fromjson' <<<"$1"; }
# curl with TOKEN (if any) as the bearer, passed through a file descriptor: unlike a command
# line, it is not shown to everyone on the machine by ps. Leaves the answer in BODY and the
# HTTP status in STATUS.
request() {
  local token=$1 out
  shift
  out=$(curl -sS -w '\n%{http_code}' \
    -H @<([ -z "$token" ] || echo "Authorization: Bearer $token") "$@")
  BODY=${out%$'\n'*} STATUS=${out##*$'\n'}
}
JSON=(-H 'Content-Type: application/json' --data-binary @-)  # POST the JSON on stdin

setting GOOGLE_APPLICATION_CREDENTIALS "the external-account config"
setting WIF_SERVICE_ACCOUNT "the service account to act as"
setting WIF_SERVICE_URL "the protected service's URL"
config=$GOOGLE_APPLICATION_CREDENTIALS
account=$WIF_SERVICE_ACCOUNT
url=${WIF_SERVICE_URL%/}
audience=${WIF_AUDIENCE:-$url}
iamcredentials=https://iamcredentials.googleapis.com
if [ -n "${WIFLAB_ENDPOINTS:-}" ]; then  # the local stack's IAM Credentials
  iamcredentials=$(jq -r .iamcredentials.api_endpoint "$WIFLAB_ENDPOINTS")
fi

echo "== (0) the subject token, where the config's credential_source says =="
source_=$(jq -c .credential_source "$config")
if file=$(jq -er .file <<<"$source_"); then
  raw=$(<"$file")
elif source_url=$(jq -er .url <<<"$source_"); then
  headers=$(jq -r '.headers // {} | to_entries[] | "\(.key): \(.value)"' <<<"$source_")
  raw=$(curl -sSf -H @<(echo "$headers") "$source_url")
else
  fail "$config: this client reads file- and url-sourced configs only"
fi
# A json-formatted source holds the token in one field; a text one is the token.
field=$(jq -r '.format.subject_token_field_name // empty' <<<"$source_")
subject=$raw
[ -z "$field" ] || subject=$(jq -r --arg f "$field" '.[$f]' <<<"$raw")
echo "subject token: $(short "$subject")"
claims "$subject"

echo "== (1) STS exchanges it for a federated token (RFC 8693) =="
# The provider's full resource name is the audience; STS wants a scope.
exchange=$(jq -n --arg audience "$(jq -r .audience "$config")" --arg token "$subject" '{
  audience: $audience,
  grantType: "urn:ietf:params:oauth:grant-type:token-exchange",
  requestedTokenType: "urn:ietf:params:oauth:token-type:access_token",
  scope: "https://www.googleapis.com/auth/cloud-platform",
  subjectTokenType: "urn:ietf:params:oauth:token-type:jwt",
  subjectToken: $token}')
token_url=$(jq -r .token_url "$config")
echo "POST $token_url"
jq --arg short "$(short "$subject")" '.subjectToken = $short' <<<"$exchange"
request "" "${JSON[@]}" "$token_url" <<<"$exchange"
if [ "$STATUS" != 200 ]; then
  fail "STS refused the token exchange: $(jq -r '"\(.error): \(.error_description)"' <<<"$BODY")" \
    "Check the provider's attribute condition and mapping against the subject token's claims" \
    "(aud, iss, exp)."
fi
federated=$(jq -r .access_token <<<"$BODY")
jq --arg short "$(short "$federated")" '.access_token = $short' <<<"$BODY"

echo "== (2) IAM Credentials mints the account's ID token, called with the federated token =="
# The federated principal needs iam.serviceAccounts.getOpenIdToken on the account.
generate="$iamcredentials/v1/projects/-/serviceAccounts/$account:generateIdToken"
body=$(jq -n --arg audience "$audience" '{audience: $audience, includeEmail: true}')
echo "POST $generate"
echo "Authorization: Bearer $(short "$federated")"
jq . <<<"$body"
request "$federated" "${JSON[@]}" "$generate" <<<"$body"
if [ "$STATUS" != 200 ]; then
  fail "IAM Credentials refused: $(jq -r '"\(.error.status): \(.error.message)"' <<<"$BODY")" \
    "Check that the federated principal holds roles/iam.workloadIdentityUser on $account."
fi
id_token=$(jq -r .token <<<"$BODY")
echo "ID token: $(short "$id_token")"
claims "$id_token"

echo "== (3) the service, once Cloud Run has checked the ID token (signature, aud, run.invoker) =="
echo "GET $url/dump"
echo "Authorization: Bearer $(short "$id_token")"
request "$id_token" "$url/dump"
if [ "$STATUS" != 200 ]; then
  # Cloud Run refuses with an HTML page; its first <h2> says why.
  why=$(sed -n 's:.*<h2>\(.*\)</h2>.*:\1:p' <<<"$BODY" | head -1 | sed 's/<[^>]*>//g')
  case $STATUS in
    401)
      hint="Check that the audience (WIF_AUDIENCE, else WIF_SERVICE_URL) is the service's URL." ;;
    403)
      hint="Check that $account holds roles/run.invoker on the service." ;;
    *) hint="" ;;
  esac
  fail "the service refused the call: $STATUS $why $hint"
fi
echo "== the service's answer (GET $url/dump) =="
jq . <<<"$BODY"
