// Seed 002's workload in Go: cloud.google.com/go/compute/metadata, as on a Compute Engine VM.
//
// With GCE_METADATA_HOST set, metadata.OnGCE() trusts it and every call goes there. Prints
// JSON: what the metadata server says about the VM and its account, an access token and an ID
// token for the audience given as the first argument.
//
//	GCE_METADATA_HOST=127.0.0.1:PORT go run clients/go/metadata.go https://SERVICE_URL
//
// Debian's package (apt-get install golang-go golang-google-cloud-compute-metadata-dev) is a
// GOPATH tree: GOPATH=/usr/share/gocode GO111MODULE=off go run ...
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"cloud.google.com/go/compute/metadata"
)

func must(value string, err error) string {
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	return value
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "error: usage: metadata AUDIENCE")
		os.Exit(2)
	}
	scopes, err := metadata.Scopes("default")
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	var token struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	raw := must(metadata.Get("instance/service-accounts/default/token"))
	if err := json.Unmarshal([]byte(raw), &token); err != nil {
		fmt.Fprintf(os.Stderr, "error: token: %v\n", err)
		os.Exit(1)
	}
	_, missing := metadata.Get("instance/attributes/no-such-key")
	_, notDefined := missing.(metadata.NotDefinedError)
	report := map[string]any{
		"on_gce":             metadata.OnGCE(),
		"project":            must(metadata.ProjectID()),
		"numeric_project_id": must(metadata.NumericProjectID()),
		"instance_id":        must(metadata.InstanceID()),
		"instance_name":      must(metadata.InstanceName()),
		"hostname":           must(metadata.Hostname()),
		"zone":               must(metadata.Zone()),
		"email":              must(metadata.Email("default")),
		"scopes":             scopes,
		"access_token":       token.AccessToken,
		"token_type":         token.TokenType,
		"id_token": must(metadata.Get(
			"instance/service-accounts/default/identity?format=full&audience=" +
				url.QueryEscape(os.Args[1]))),
		"missing_is_not_defined": notDefined,
	}
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
}
