#!/usr/bin/env bash
# The classpath of Debian's google-auth-library-java (apt-get install libgoogle-auth-java), for
# `java -cp "$(clients/java/classpath.sh)" clients/java/Metadata.java AUDIENCE`.
set -euo pipefail
jars=(google-auth-library-oauth2-http google-auth-library-credentials google-http-client
  google-http-client-jackson2 jackson-core guava opencensus-api opencensus-contrib-http-util
  grpc-context auto-value-annotations)
dir=${JAVA_JARS:-/usr/share/java}
path=""
for jar in "${jars[@]}"; do
  [ -f "$dir/$jar.jar" ] || { echo "classpath: $dir/$jar.jar missing (apt-get install libgoogle-auth-java)" >&2; exit 1; }
  path="${path:+$path:}$dir/$jar.jar"
done
echo "$path"
