// Seed 001's chain in Go, with Google's libraries and no endpoint anywhere: what runs on
// Google Cloud runs here unchanged.
//
//	subject token --STS--> federated token --generateIdToken--> ID token --> /dump
//
// (1) golang.org/x/oauth2/google reads the external-account config
// (GOOGLE_APPLICATION_CREDENTIALS) and exchanges the subject token at the config's token_url
// (https://sts.googleapis.com). (2) google.golang.org/api/impersonate asks IAM Credentials, at
// its fixed URL (https://iamcredentials.googleapis.com), for the account's ID token with the
// federated token as the caller: seed 001's direct federation, no
// service_account_impersonation_url. (3) google.golang.org/api/idtoken validates it as a
// relying party does (Google's certs URL, iss https://accounts.google.com). (4) The ID token
// calls the Cloud Run service; its /dump answer is printed.
//
// Settings are read from the environment (clients/README.md): GOOGLE_APPLICATION_CREDENTIALS,
// WIF_SERVICE_ACCOUNT, WIF_SERVICE_URL, WIF_AUDIENCE (optional). Against the local stack, run it
// inside `eval "$(wiflab env)"` (the intercepting proxy serves Google's hosts; SSL_CERT_FILE
// names its CA). Debian's packages are a GOPATH tree:
//
//	apt-get install golang-go golang-golang-x-oauth2-google-dev golang-google-api-dev
//	GOPATH=/usr/share/gocode GO111MODULE=off go run clients/go/chain.go
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2/google"
	"google.golang.org/api/idtoken"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

const cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"

func fail(format string, args ...any) {
	// One line: a Google answer quoted inside an error may hold newlines.
	line := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	fmt.Fprintln(os.Stderr, "error: "+line)
	os.Exit(1)
}

func setting(name, meaning string) string {
	value := os.Getenv(name)
	if value == "" {
		fail("set %s (%s); see clients/README.md", name, meaning)
	}
	return value
}

// short shows enough of a token to recognise it, not to use it.
func short(token string) string {
	if len(token) > 20 {
		return fmt.Sprintf("%s...(%d chars)", token[:20], len(token))
	}
	return token
}

// googleError is Google's JSON error body, as STS ({"error", "error_description"}) and the
// other APIs ({"error": {"code", "message", "status"}}) write it.
var googleError = regexp.MustCompile(`\{.*\}`)

func explain(err error) string {
	text := err.Error()
	body := googleError.FindString(strings.ReplaceAll(text, "\n", " "))
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal([]byte(body), &oauth) == nil && oauth.Error != "" {
		return oauth.Error + ": " + oauth.Description
	}
	var api struct {
		Error struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &api) == nil && api.Error.Status != "" {
		return api.Error.Status + ": " + api.Error.Message
	}
	return text
}

func main() {
	setting("GOOGLE_APPLICATION_CREDENTIALS", "the external-account config")
	account := setting("WIF_SERVICE_ACCOUNT", "the service account to act as")
	url := strings.TrimRight(setting("WIF_SERVICE_URL", "the protected service's URL"), "/")
	audience := os.Getenv("WIF_AUDIENCE")
	if audience == "" {
		audience = url
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// 1. Application Default Credentials: the external-account config. STS wants a scope.
	credentials, err := google.FindDefaultCredentials(ctx, cloudPlatform)
	if err != nil {
		fail("%v", err)
	}
	federated, err := credentials.TokenSource.Token()
	if err != nil {
		fail("STS refused the token exchange: %s", explain(err))
	}
	fmt.Printf("federated token from STS: %s\n", short(federated.AccessToken))

	// 2. The federated token (the same credentials, cached) calls IAM Credentials
	//    generateIdToken for the account.
	source, err := impersonate.IDTokenSource(ctx, impersonate.IDTokenConfig{
		Audience:        audience,
		TargetPrincipal: account,
		IncludeEmail:    true,
	}, option.WithCredentials(credentials))
	if err != nil {
		fail("%v", err)
	}
	idToken, err := source.Token()
	if err != nil {
		fail("IAM Credentials refused: %s", explain(err))
	}
	token := idToken.AccessToken
	fmt.Printf("ID token from IAM Credentials: %s\n", short(token))

	// 3. A relying party's check: Google's signature (its certs URL), aud, iss, expiry.
	payload, err := idtoken.Validate(ctx, token, audience)
	if err != nil {
		fail("the ID token did not validate: %v", err)
	}
	checked, _ := json.Marshal(map[string]any{
		"iss": payload.Issuer, "aud": payload.Audience, "email": payload.Claims["email"],
	})
	fmt.Printf("idtoken.Validate: %s\n", checked)

	// 4. Cloud Run's front end checks the token before the service sees the call.
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/dump", nil)
	if err != nil {
		fail("%v", err)
	}
	request.Header.Set("Authorization", "Bearer "+token)
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		fail("%v", err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(io.LimitReader(response.Body, 1<<20))
	if err != nil {
		fail("reading the service's answer: %v", err)
	}
	if response.StatusCode != http.StatusOK {
		fail("the service refused the call: %d %s", response.StatusCode, title(string(body)))
	}
	var answer any
	if err := json.Unmarshal(body, &answer); err != nil {
		fail("the service's answer is not JSON: %v", err)
	}
	pretty, _ := json.MarshalIndent(answer, "", "  ")
	fmt.Printf("== the service's answer (GET %s/dump) ==\n%s\n", url, pretty)
}

// title is the first <h2> of Cloud Run's refusal page, without its markup.
func title(page string) string {
	found := regexp.MustCompile(`(?s)<h2>(.*?)</h2>`).FindStringSubmatch(page)
	if found == nil {
		return strings.TrimSpace(page)
	}
	return regexp.MustCompile(`<[^>]*>`).ReplaceAllString(found[1], "")
}
