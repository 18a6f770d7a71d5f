// @google-cloud/iam-credentials on its default gRPC transport (grpc-js), at a plaintext
// target: google-auth-library's ExternalAccountClient gets the federated token from STS.
// grpc-js will not compose call credentials with insecure channel credentials, so the token
// goes as per-call metadata (gax's otherArgs.headers), the one change from TLS to Google.
// Prints one JSON line: each call's answer or its error as gax reports it.
//   WIFLAB_GRPC_TARGET=127.0.0.1:PORT CREDENTIALS=config.json SA=... node node_grpc_client.js
'use strict';

const fs = require('node:fs');
const {ExternalAccountClient} = require('google-auth-library');
const {IAMCredentialsClient} = require('@google-cloud/iam-credentials');
const {grpc} = require('google-gax');

async function outcome(call) {
  try {
    return {ok: await call()};
  } catch (error) {
    return {
      error: {
        code: error.code,
        details: error.details,
        reason: error.reason,
        domain: error.domain,
        metadata: error.errorInfoMetadata,
      },
    };
  }
}

async function main() {
  const [host, port] = [
    process.env.WIFLAB_GRPC_TARGET.replace(/:\d+$/, ''),
    Number(process.env.WIFLAB_GRPC_TARGET.match(/:(\d+)$/)[1]),
  ];
  const config = JSON.parse(fs.readFileSync(process.env.CREDENTIALS, 'utf8'));
  const {token} = await ExternalAccountClient.fromJSON(config).getAccessToken();
  const client = new IAMCredentialsClient({
    servicePath: host,
    port,
    sslCreds: grpc.credentials.createInsecure(),
  });
  const auth = {otherArgs: {headers: {authorization: `Bearer ${token}`}}};
  const name = account => `projects/-/serviceAccounts/${account}`;
  const result = {
    idToken: await outcome(async () => {
      const [response] = await client.generateIdToken(
        {name: name(process.env.SA), audience: 'https://node.example', includeEmail: true},
        auth,
      );
      return response.token;
    }),
    signBlob: await outcome(async () => {
      const [response] = await client.signBlob(
        {name: name(process.env.SA), payload: Buffer.from('node')},
        auth,
      );
      return {keyId: response.keyId, bytes: response.signedBlob.length};
    }),
    denied: await outcome(() =>
      client.generateIdToken({name: name(process.env.DENIED_SA), audience: 'a'}, auth),
    ),
    unauthenticated: await outcome(() =>
      client.generateIdToken({name: name(process.env.SA), audience: 'a'}),
    ),
  };
  await client.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch(error => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
