/**
 * `npm run token -- --name NAME --role viewer|operator|service`: prints a new random API token and the
 * OPS_API_TOKENS entry (`name:role:sha256hex`) to add for it. Only the hash goes into the config;
 * the token is shown once, here, and stored nowhere.
 */
import { newToken, parseTokenArgs, tokenEntry, UsageError } from '../src/platform/auth/token-entries.js';

const USAGE = 'usage: npm run token -- --name NAME --role viewer|operator|service';

try {
  const { name, role } = parseTokenArgs(process.argv.slice(2));
  const token = newToken();
  process.stdout.write(
    [
      `token for "${name}" (${role}); give it to them over a private channel, it is not shown again:`,
      `  ${token}`,
      'add this entry to OPS_API_TOKENS (comma-separated with the others), then restart the service:',
      `  ${tokenEntry(name, role, token)}`,
      '',
    ].join('\n'),
  );
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`${err.message}\n${USAGE}\n`);
  process.exitCode = 2;
}
