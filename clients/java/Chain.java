// Seed 001's call to a private Cloud Run service, in Java, with what Debian packages of
// google-auth-library-java (libgoogle-auth-java 0.18) provide, and no endpoint anywhere:
//
//   metadata server --ComputeEngineCredentials--> the VM's access token
//   --ImpersonatedCredentials (IAM Credentials generateIdToken)--> the account's ID token
//   --> the Cloud Run service's /dump
//
// The library is older than external accounts (it refuses an external_account config), so
// the source credential is the workload's own: Application Default Credentials find the
// metadata server (ComputeEngineCredentials), and ImpersonatedCredentials mints the target
// account's ID token at its fixed URL, https://iamcredentials.googleapis.com. The VM's account
// needs roles/iam.serviceAccountOpenIdTokenCreator (or Token Creator) on the target account;
// the target needs roles/run.invoker on the service.
//
// Settings are read from the environment (clients/README.md): WIF_SERVICE_ACCOUNT,
// WIF_SERVICE_URL, WIF_AUDIENCE (optional). On a VM or Cloud Run nothing else is needed.
// Locally, inside `eval "$(wiflab env)"`, the JVM is pointed at the intercepting proxy by the
// flags clients/java/proxy-flags.sh prints (Java reads no HTTPS_PROXY):
//
//   java $(clients/java/proxy-flags.sh) -cp "$(clients/java/classpath.sh)" clients/java/Chain.java
import com.google.auth.oauth2.ComputeEngineCredentials;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.IdTokenCredentials;
import com.google.auth.oauth2.IdTokenProvider;
import com.google.auth.oauth2.ImpersonatedCredentials;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Collections;

public class Chain {
  private static final String CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";

  static void fail(String message) {
    // One line: Google's answers quoted inside an exception's message hold newlines.
    System.err.println("error: " + message.replaceAll("\\s+", " ").trim());
    System.exit(1);
  }

  static String setting(String name, String meaning) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      fail("set " + name + " (" + meaning + "); see clients/README.md");
    }
    return value;
  }

  static String shortened(String token) {
    return token.length() > 20 ? token.substring(0, 20) + "...(" + token.length() + " chars)" : token;
  }

  static String read(InputStream stream) throws IOException {
    if (stream == null) {
      return "";
    }
    try (InputStream in = stream) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    }
  }

  public static void main(String[] args) throws Exception {
    String account = setting("WIF_SERVICE_ACCOUNT", "the service account to act as");
    String url = setting("WIF_SERVICE_URL", "the protected service's URL").replaceAll("/+$", "");
    String audience = System.getenv("WIF_AUDIENCE");
    if (audience == null || audience.isEmpty()) {
      audience = url;
    }

    // 1. Application Default Credentials: on a VM (or Cloud Run), the metadata server.
    GoogleCredentials source;
    try {
      source = GoogleCredentials.getApplicationDefault();
    } catch (IOException error) {
      fail("no Application Default Credentials: " + error.getMessage());
      return;
    }
    if (!(source instanceof ComputeEngineCredentials)) {
      fail("Application Default Credentials are not the metadata server's: " + source);
    }
    ComputeEngineCredentials compute = (ComputeEngineCredentials) source;
    System.out.println("source: " + compute.getAccount() + " (ComputeEngineCredentials)");

    // 2. IAM Credentials generateIdToken for the target account, the VM's token as the caller.
    ImpersonatedCredentials impersonated =
        ImpersonatedCredentials.create(
            compute, account, null, Collections.singletonList(CLOUD_PLATFORM), 3600);
    IdTokenCredentials idTokens =
        IdTokenCredentials.newBuilder()
            .setIdTokenProvider(impersonated)
            .setTargetAudience(audience)
            .setOptions(Collections.singletonList(IdTokenProvider.Option.INCLUDE_EMAIL))
            .build();
    String token;
    try {
      idTokens.refresh();
      token = idTokens.getIdToken().getTokenValue();
    } catch (IOException error) {
      fail("IAM Credentials refused: " + error.getMessage());
      return;
    }
    System.out.println("ID token from IAM Credentials: " + shortened(token));

    // 3. Cloud Run's front end checks the token (signature, aud, run.invoker).
    HttpURLConnection connection = (HttpURLConnection) new URL(url + "/dump").openConnection();
    connection.setRequestProperty("Authorization", "Bearer " + token);
    connection.setConnectTimeout(30_000);
    connection.setReadTimeout(30_000);
    int status = connection.getResponseCode();
    if (status != 200) {
      String page = read(connection.getErrorStream());
      String why = page.replaceAll("(?s).*?<h2>(.*?)</h2>.*", "$1").replaceAll("<[^>]*>", "");
      fail("the service refused the call: " + status + " " + why);
    }
    System.out.println("== the service's answer (GET " + url + "/dump) ==");
    System.out.println(read(connection.getInputStream()));
  }
}
