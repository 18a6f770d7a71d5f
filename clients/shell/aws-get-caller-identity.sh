#!/usr/bin/env bash
# AWS STS GetCallerIdentity signed by curl itself (--aws-sigv4): the request an AWS workload's
# keys sign, and the one Google's STS executes for an AWS subject token. Prints AWS's XML
# answer, then the caller's ARN; exits 1 with AWS's error when AWS (or the lab's AWS side)
# refuses it.
#
# Settings, as the AWS CLI reads them:
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the keys (required)
#   AWS_SESSION_TOKEN                          temporary keys (ASIA...) only
#   AWS_REGION (or AWS_DEFAULT_REGION)         default us-east-1
#   AWS_ENDPOINT_URL_STS                       default https://sts.REGION.amazonaws.com; the
#                                              lab's: jq -r .aws.sts_url state/endpoints.json
# In intercept mode (eval "$(wiflab env)") leave AWS_ENDPOINT_URL_STS unset: curl reaches
# AWS's own host through the proxy. Run: clients/shell/aws-get-caller-identity.sh
set -euo pipefail

fail() { echo "error: $*" >&2; exit 1; }
setting() { [ -n "${!1:-}" ] || fail "set $1 ($2)"; }

setting AWS_ACCESS_KEY_ID "the access key id, AKIA... or ASIA..."
setting AWS_SECRET_ACCESS_KEY "the secret access key"
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
endpoint=${AWS_ENDPOINT_URL_STS:-https://sts.$region.amazonaws.com}
[[ $region =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || fail "AWS_REGION: '$region' is not an AWS region"

# The keys go to curl in a config read from a file descriptor, not on its command line
# (which everyone on the machine sees in ps); the session token likewise, as a header.
out=$(curl -sS -w '\n%{http_code}' \
  --aws-sigv4 "aws:amz:$region:sts" \
  -K <(printf 'user = "%s:%s"\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY") \
  -H @<([ -z "${AWS_SESSION_TOKEN:-}" ] || echo "x-amz-security-token: $AWS_SESSION_TOKEN") \
  -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
  --data 'Action=GetCallerIdentity&Version=2011-06-15' \
  "${endpoint%/}/")
body=${out%$'\n'*} status=${out##*$'\n'}
echo "$body"
if [ "$status" != 200 ]; then
  code=$(sed -n 's:.*<Code>\(.*\)</Code>.*:\1:p' <<<"$body")
  fail "GetCallerIdentity refused: HTTP $status ${code:-(no AWS error code)}"
fi
echo "arn: $(sed -n 's:.*<Arn>\(.*\)</Arn>.*:\1:p' <<<"$body")"
