# What clients/gcloud's scripts share: their settings (clients/README.md), a throwaway work
# folder, shortened tokens, gcloud's error line, and the call to the service. Sourced, not run.
# shellcheck shell=bash

fail() { echo "error: $*" >&2; exit 1; }
setting() { [ -n "${!1:-}" ] || fail "set $1 ($2); see clients/README.md"; }
short() { echo "${1:0:20}...(${#1} chars)"; }  # enough to recognise a token, not to use it
claims() { jq -R 'split(".")[1] | gsub("-"; "+") | gsub("_"; "/") | @base64d | fromjson' <<<"$1"; }
# gcloud wraps Google's refusal in a paragraph of its own; the first ERROR line holds it.
gcloud_error() { grep -m1 '^ERROR:' "$1" | sed 's/^ERROR: ([^)]*) //'; }

setting GOOGLE_APPLICATION_CREDENTIALS "the external-account config"
setting WIF_SERVICE_ACCOUNT "the service account to act as"
setting WIF_SERVICE_URL "the protected service's URL"
account=$WIF_SERVICE_ACCOUNT
url=${WIF_SERVICE_URL%/}
audience=${WIF_AUDIENCE:-$url}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcloud=(gcloud --quiet --verbosity=error)

# GET $url/dump with the ID token $1 and print the service's answer, or fail with Cloud Run's
# reason. The header is a pipe, so the token is on no command line and in no file.
call_service() {
  local answer body status why hint
  answer=$(curl -sS -w '\n%{http_code}' -H @<(echo "Authorization: Bearer $1") "$url/dump")
  body=${answer%$'\n'*} status=${answer##*$'\n'}
  if [ "$status" != 200 ]; then
    # Cloud Run refuses with an HTML page; its first <h2> says why.
    why=$(sed -n 's:.*<h2>\(.*\)</h2>.*:\1:p' <<<"$body" | head -1 | sed 's/<[^>]*>//g')
    case $status in
      401)
        hint="Check that the audience (WIF_AUDIENCE, else WIF_SERVICE_URL) is the service's URL." ;;
      403)
        hint="Check that $account holds roles/run.invoker on the service." ;;
      *) hint="" ;;
    esac
    fail "the service refused the call: $status $why $hint"
  fi
  echo "== the service's answer (GET $url/dump) =="
  jq . <<<"$body"
}
