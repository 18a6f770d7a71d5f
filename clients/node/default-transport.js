// Seed 001's Node.js client on the library's defaults: `new IAMCredentialsClient()` with no
// options (Application Default Credentials from GOOGLE_APPLICATION_CREDENTIALS, the gRPC
// transport, iamcredentials.googleapis.com:443) and no endpoint anywhere. What runs on Google
// Cloud runs here unchanged.
//
//   subject token --STS--> federated token --generateIdToken (gRPC)--> ID token --> /dump
//
// Settings are read from the environment (clients/README.md): GOOGLE_APPLICATION_CREDENTIALS,
// WIF_SERVICE_ACCOUNT, WIF_SERVICE_URL, WIF_AUDIENCE (optional). Against the local stack, run it
// inside `eval "$(wiflab env)"`: grpc-js takes its proxy from the lower-case `grpc_proxy`,
// `https_proxy` or `http_proxy` only (never HTTPS_PROXY), gaxios (the REST calls: STS, the
// service) from either case; both trust the proxy's CA through NODE_EXTRA_CA_CERTS (or, for gRPC
// alone, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, which replaces the default roots).
//
//   node clients/node/default-transport.js
'use strict';

const {OAuth2Client} = require('google-auth-library');
const {IAMCredentialsClient} = require('@google-cloud/iam-credentials');

// gRPC's status codes by number (the gRPC spec's names), for a refusal's first word.
const GRPC_CODES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED',
  'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

// google-gax's error: the status code and Google's message (after retries, the last error's,
// without the list of every earlier attempt).
function iamRefusal(error) {
  const code = GRPC_CODES[error.code] ?? error.code;
  const why = String(error.details || error.message).split(' : Previous errors')[0];
  return `IAM Credentials refused: ${code}: ${why}`;
}

function fail(message) {
  console.error(`error: ${String(message).replace(/\s+/g, ' ').trim()}`);
  process.exit(1);
}

function setting(name, meaning) {
  return process.env[name] || fail(`set ${name} (${meaning}); see clients/README.md`);
}

// Enough of a token to recognise it, never enough to use it.
function short(token) {
  return `${token.slice(0, 20)}...(${token.length} chars)`;
}

async function main() {
  setting('GOOGLE_APPLICATION_CREDENTIALS', 'the external-account config');
  const account = setting('WIF_SERVICE_ACCOUNT', 'the service account to act as');
  const url = setting('WIF_SERVICE_URL', "the protected service's URL").replace(/\/+$/, '');
  const audience = process.env.WIF_AUDIENCE || url;

  // 1. and 2. As the seed writes it: the client finds its credentials (the external-account
  //    config), which exchange the subject token at STS inside gRPC's call credentials; the
  //    federated token calls generateIdToken over gRPC.
  const iam = new IAMCredentialsClient();
  const name = `projects/-/serviceAccounts/${account}`;
  const [{token}] = await iam
    .generateIdToken({name, audience, includeEmail: true})
    .catch((error) => fail(iamRefusal(error)))
    .finally(() => iam.close());
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  console.log(`ID token from IAM Credentials (gRPC): ${short(token)}`);
  console.log(JSON.stringify({iss: claims.iss, aud: claims.aud, email: claims.email}));

  // 3. The ID token as a bearer token, as the Python seed does with
  //    google.oauth2.credentials.Credentials(id_token): google-auth-library's request (gaxios).
  const bearer = new OAuth2Client();
  bearer.setCredentials({access_token: token});
  let response;
  try {
    response = await bearer.request({url: `${url}/dump`, responseType: 'text'});
  } catch (error) {
    const page = String(error.response?.data ?? error.message);
    const found = page.match(/<h2>([\s\S]*?)<\/h2>/);
    const why = found ? found[1].replace(/<[^>]+>/g, '') : page.slice(0, 200);
    fail(`the service refused the call: ${error.response?.status ?? ''} ${why}`);
  }
  console.log(`== the service's answer (GET ${url}/dump) ==`);
  console.log(JSON.stringify(JSON.parse(response.data), null, 2));
}

main().catch((error) => fail(error.message));
