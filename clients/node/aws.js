// Seed 004's AWS caller in Node.js: an IAM user (keys in AWS_ACCESS_KEY_ID, ...) or an EC2
// instance's role (keys from the IMDSv2) calls a private Cloud Run service through Workload
// Identity Federation, with google-auth-library's AwsClient.
//
//   signed GetCallerIdentity --STS (executes it at AWS)--> federated token
//     [--generateAccessToken--> the service account's token]
//     --generateIdToken--> Google-signed ID token --> /dump
//
// Settings as index.js's (clients/README.md); GOOGLE_APPLICATION_CREDENTIALS is a config
// from `gcloud iam workload-identity-pools create-cred-config --aws [--enable-imdsv2]`.
// Run: node clients/node/aws.js
'use strict';

const fs = require('node:fs');
const {AwsClient} = require('google-auth-library');
const {IAMCredentialsClient} = require('@google-cloud/iam-credentials');
const chain = require('./index.js');

async function main() {
  const config = chain.setting('GOOGLE_APPLICATION_CREDENTIALS', 'an AWS credential config');
  const account = chain.setting('WIF_SERVICE_ACCOUNT', 'the service account to act as');
  const url = chain.setting('WIF_SERVICE_URL', "the protected service's URL").replace(/\/+$/, '');

  // 1. AwsClient signs GetCallerIdentity (SigV4, x-goog-cloud-target-resource: the provider)
  //    and sends the serialized request to STS, which executes it at AWS to learn the ARN.
  const authClient = new AwsClient(JSON.parse(fs.readFileSync(config, 'utf8')));
  try {
    const {token} = await authClient.getAccessToken();
    console.log(`token from STS${authClient.getServiceAccountEmail() ? ' (impersonated)' : ''}: ${chain.short(token)}`);
  } catch (error) {
    if (!/^Error code /.test(error.message)) throw error; // not STS's answer
    chain.fail(chain.stsRefusal(error));
  }

  // 2. That token mints the account's ID token for the service (IAM Credentials).
  const iam = new IAMCredentialsClient({
    authClient,
    ...chain.iamClientOptions(process.env.WIFLAB_ENDPOINTS),
  });
  let token;
  try {
    [{token}] = await iam.generateIdToken({
      name: `projects/-/serviceAccounts/${account}`,
      audience: url,
      includeEmail: true,
    });
  } catch (error) {
    chain.fail(chain.iamRefusal(error, account));
  }

  // 3. Cloud Run's front end checks it; /dump shows who called.
  const response = await fetch(`${url}/dump`, {headers: {Authorization: `Bearer ${token}`}});
  const body = await response.text();
  if (!response.ok) chain.fail(chain.serviceRefusal(response.status, body, account));
  console.log(`== the service's answer (GET ${url}/dump) ==`);
  console.log(JSON.stringify(JSON.parse(body), null, 2));
}

chain.run(main);
