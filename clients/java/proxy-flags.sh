#!/usr/bin/env bash
# The JVM flags that send a Java client through wiflab's intercepting proxy, for
# `java $(clients/java/proxy-flags.sh) ...` inside `eval "$(wiflab env)"`. Java reads no
# HTTPS_PROXY and no PEM file, so this turns them into what it does read:
#
#   -Dhttps.proxyHost/-Dhttps.proxyPort, -Dhttp.proxyHost/-Dhttp.proxyPort (from HTTPS_PROXY and
#   HTTP_PROXY: the metadata server is plain HTTP), and a truststore (-Djavax.net.ssl.trustStore)
#   holding Java's own roots plus the local CA (NODE_EXTRA_CA_CERTS, or the file given as first
#   argument), made with keytool in TRUSTSTORE_DIR (default: a new temporary folder).
#
# On Google Cloud none of this is needed: run the client with no flags.
set -euo pipefail

fail() { echo "proxy-flags: $*" >&2; exit 1; }
ca=${1:-${NODE_EXTRA_CA_CERTS:-}}
[ -n "${HTTPS_PROXY:-}" ] || fail "HTTPS_PROXY is not set: run eval \"\$(wiflab env)\" first"
[ -f "$ca" ] || fail "the local CA's certificate is missing (${ca:-pass it, or set NODE_EXTRA_CA_CERTS})"
command -v keytool >/dev/null || fail "keytool not found (apt-get install default-jdk-headless)"

# host and port of an http://HOST:PORT proxy URL
hostport() {
  local rest=${1#http://}
  rest=${rest%%/*}
  [[ $rest == *:* ]] || rest="$rest:80"
  echo "${rest%:*} ${rest##*:}"
}
read -r https_host https_port < <(hostport "$HTTPS_PROXY")
read -r http_host http_port < <(hostport "${HTTP_PROXY:-$HTTPS_PROXY}")

dir=${TRUSTSTORE_DIR:-$(mktemp -d)}
store="$dir/truststore.p12"
password=changeit
rm -f "$store"
java_roots=/etc/ssl/certs/java/cacerts
if [ -f "$java_roots" ]; then
  keytool -importkeystore -noprompt -srckeystore "$java_roots" -srcstorepass "$password" \
    -destkeystore "$store" -deststoretype PKCS12 -deststorepass "$password" >/dev/null 2>&1
fi
keytool -importcert -noprompt -alias wiflab-local-ca -file "$ca" -keystore "$store" \
  -storetype PKCS12 -storepass "$password" >/dev/null 2>&1 || fail "keytool could not import $ca"

echo "-Dhttps.proxyHost=$https_host -Dhttps.proxyPort=$https_port" \
  "-Dhttp.proxyHost=$http_host -Dhttp.proxyPort=$http_port" \
  "-Djavax.net.ssl.trustStore=$store -Djavax.net.ssl.trustStorePassword=$password" \
  "-Djavax.net.ssl.trustStoreType=PKCS12"
