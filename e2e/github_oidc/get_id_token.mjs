// core.getIDToken(audience), exactly as an action calls it: it reads
// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN from the environment.
// Prints the token alone on the last line; on failure, @actions/core's own message and exit 1.
import * as core from '@actions/core';

const audience = process.argv[2] || undefined;
try {
  const token = await core.getIDToken(audience);
  process.stdout.write(`\n${token}\n`);
} catch (error) {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
