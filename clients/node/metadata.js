// Seed 002's workload in Node.js: Application Default Credentials with no settings at all, on a
// VM (or Cloud Run instance) whose identity comes from the metadata server.
//
// google-auth-library finds the metadata server the way it does on Google Cloud: gcp-metadata's
// isAvailable() probes /computeMetadata/v1/instance. Locally, GCE_METADATA_HOST names the
// stand-in's metadata server (clients/README.md). Prints JSON: what the metadata server says
// about the VM, an access token and an ID token for the audience given as the first argument.
//
//   GCE_METADATA_HOST=127.0.0.1:PORT node clients/node/metadata.js https://SERVICE_URL
'use strict';

const gcpMetadata = require('gcp-metadata');
const {GoogleAuth} = require('google-auth-library');

async function main(audience) {
  if (!audience) throw new Error('usage: node metadata.js AUDIENCE');
  const available = await gcpMetadata.isAvailable();
  const auth = new GoogleAuth();
  const client = await auth.getClient();
  const {token: accessToken} = await client.getAccessToken();
  const idTokenClient = await auth.getIdTokenClient(audience);
  const idToken = await idTokenClient.idTokenProvider.fetchIdToken(audience);
  const credentials = await auth.getCredentials();
  console.log(
    JSON.stringify({
      available,
      client: client.constructor.name,
      project: await auth.getProjectId(),
      email: credentials.client_email,
      zone: await gcpMetadata.instance('zone'),
      universe: await auth.getUniverseDomain(),
      access_token: accessToken,
      id_token: idToken,
    }),
  );
}

main(process.argv[2]).catch(error => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
