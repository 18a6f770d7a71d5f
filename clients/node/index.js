// Seed 001's client in Node.js: call a private Cloud Run service as a service account,
// through Workload Identity Federation, with Google's client libraries.
//
//   subject token --STS--> federated token --generateIdToken--> Google-signed ID token --> /dump
//
// Settings are read from the environment (clients/README.md). Run: node clients/node/index.js
'use strict';

const fs = require('node:fs');
const {ExternalAccountClient} = require('google-auth-library');
const {IAMCredentialsClient} = require('@google-cloud/iam-credentials');

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

function setting(name, meaning) {
  return process.env[name] || fail(`set ${name} (${meaning}); see clients/README.md`);
}

// Enough of a token to recognise it, never enough to use it.
function short(token) {
  return `${token.slice(0, 20)}...(${token.length} chars)`;
}

// IAMCredentialsClient's options: Google's defaults, or the local stack's endpoint. gRPC cannot
// reach a plain-HTTP endpoint, so an override goes with the REST fallback.
function iamClientOptions(endpointsFile) {
  if (!endpointsFile) return {};
  const endpoints = JSON.parse(fs.readFileSync(endpointsFile, 'utf8'));
  const api = new URL(endpoints.iamcredentials.api_endpoint);
  return {
    apiEndpoint: api.hostname,
    port: Number(api.port),
    protocol: api.protocol.replace(':', ''),
    fallback: true,
  };
}

// google-auth-library reports STS's refusal as "Error code ERROR: DESCRIPTION".
function stsRefusal(error) {
  return (
    `STS refused the token exchange: ${error.message.replace(/^Error code /, '')} ` +
    "Check the provider's attribute condition and mapping against the subject token's " +
    'claims (aud, iss, exp).'
  );
}

// Over the REST fallback, IAM's refusal carries Google's JSON error body as its message; over
// gRPC, the status code and Google's message as details.
function iamRefusal(error, account) {
  let google = {};
  try {
    google = JSON.parse(error.message).error ?? {};
  } catch {
    // gRPC: not JSON
  }
  return (
    `IAM Credentials refused: ${google.status ?? error.code}: ` +
    `${google.message ?? error.details ?? error.message} Check that the federated principal ` +
    `holds roles/iam.workloadIdentityUser on ${account}.`
  );
}

// Cloud Run refuses with an HTML page; its <h2> says why.
function serviceRefusal(status, page, account) {
  const found = page.match(/<h2>([\s\S]*?)<\/h2>/);
  const text = found ? found[1].replace(/<[^>]+>/g, '') : page.trim().slice(0, 200);
  const hint = {
    401: "Check that the audience (WIF_AUDIENCE, else WIF_SERVICE_URL) is the service's URL.",
    403: `Check that ${account} holds roles/run.invoker on the service.`,
  }[status];
  return `the service refused the call: ${status} ${text} ${hint ?? ''}`.trimEnd();
}

async function main() {
  const config = setting('GOOGLE_APPLICATION_CREDENTIALS', 'the external-account config');
  const account = setting('WIF_SERVICE_ACCOUNT', 'the service account to act as');
  const url = setting('WIF_SERVICE_URL', "the protected service's URL").replace(/\/+$/, '');
  const audience = process.env.WIF_AUDIENCE || url;

  // 1. The config names the subject token and the provider that trusts it; the external-account
  //    client reads the token and exchanges it at STS (the config's token_url), asking for the
  //    cloud-platform scope.
  const authClient = ExternalAccountClient.fromJSON(JSON.parse(fs.readFileSync(config, 'utf8')));
  try {
    const {token: federated} = await authClient.getAccessToken();
    console.log(`federated token from STS: ${short(federated)}`);
  } catch (error) {
    if (!/^Error code /.test(error.message)) throw error; // not STS's answer
    fail(stsRefusal(error));
  }

  // 2. With no service_account_impersonation_url in the config, the federated token itself
  //    calls IAM Credentials (seed 001's short cut), which mints the account's ID token for the
  //    service's audience. The principal needs iam.serviceAccounts.getOpenIdToken on it.
  const iam = new IAMCredentialsClient({
    authClient,
    ...iamClientOptions(process.env.WIFLAB_ENDPOINTS),
  });
  let token;
  try {
    [{token}] = await iam.generateIdToken({
      name: `projects/-/serviceAccounts/${account}`,
      audience,
      includeEmail: true,
    });
  } catch (error) {
    fail(iamRefusal(error, account));
  }
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  console.log(`ID token from IAM Credentials: ${short(token)}`);
  console.log(JSON.stringify(claims, null, 2));

  // 3. Cloud Run's front end checks the token (Google's signature, aud, run.invoker) before
  //    the service sees the call.
  const response = await fetch(`${url}/dump`, {headers: {Authorization: `Bearer ${token}`}});
  const body = await response.text();
  if (!response.ok) fail(serviceRefusal(response.status, body, account));
  console.log(`== the service's answer (GET ${url}/dump) ==`);
  console.log(JSON.stringify(JSON.parse(body), null, 2));
}

// An unreadable config or subject token, an unreachable endpoint.
function run(chain) {
  chain().catch(error => {
    fail(error.cause ? `${error.message}: ${error.cause.message}` : error.message);
  });
}

module.exports = {fail, setting, short, iamClientOptions, stsRefusal, iamRefusal, serviceRefusal, run};

if (require.main === module) run(main);
