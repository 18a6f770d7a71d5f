// Seed 002's workload in Java: Application Default Credentials with no settings but the
// metadata host, as google-auth-library-java finds them on a Compute Engine VM.
//
// GoogleCredentials.getApplicationDefault() pings the metadata server (GCE_METADATA_HOST, else
// 169.254.169.254) and checks its Metadata-Flavor answer; ComputeEngineCredentials.getAccount()
// parses .../instance/service-accounts/?recursive=true (JSON). Prints JSON: the credential's
// class, the account, an access token and an ID token for the audience given as argument.
//
//   GCE_METADATA_HOST=127.0.0.1:PORT java -cp "$(clients/java/classpath.sh)" \
//       clients/java/Metadata.java https://SERVICE_URL
import com.google.auth.oauth2.ComputeEngineCredentials;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.IdTokenProvider;
import java.util.Collections;

public class Metadata {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("error: usage: java Metadata.java AUDIENCE");
      System.exit(2);
    }
    GoogleCredentials credentials = GoogleCredentials.getApplicationDefault();
    if (!(credentials instanceof ComputeEngineCredentials)) {
      System.err.println("error: ADC did not find the metadata server: " + credentials);
      System.exit(1);
    }
    ComputeEngineCredentials compute = (ComputeEngineCredentials) credentials;
    String accessToken = compute.refreshAccessToken().getTokenValue();
    String idToken =
        compute
            .idTokenWithAudience(
                args[0], Collections.singletonList(IdTokenProvider.Option.FORMAT_FULL))
            .getTokenValue();
    System.out.println(
        String.format(
            "{\"client\": \"%s\", \"email\": \"%s\", \"access_token\": \"%s\", \"id_token\": \"%s\"}",
            compute.getClass().getSimpleName(), compute.getAccount(), accessToken, idToken));
  }
}
