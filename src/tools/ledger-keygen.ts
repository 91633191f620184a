/**
 * `npm run ledger:keygen [-- --out PREFIX]`: a new Ed25519 key pair for the signed ledger. Prints
 * the private key, then the public key, or with --out writes PREFIX.key (mode 0600) and PREFIX.pub.
 * Runs from dist/ with no dev dependencies.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { generateKeyPair } from '../core/ledger/ledger-keys.js';

export function keygen(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  const i = argv.indexOf('--out');
  const prefix = i >= 0 ? argv[i + 1] : undefined;
  if ((i >= 0 && !prefix) || argv.some((a, j) => a !== '--out' && (i < 0 || j !== i + 1))) {
    err('usage: ledger-keygen [--out PREFIX]   (writes PREFIX.key 0600 and PREFIX.pub)\n');
    return 2;
  }
  const k = generateKeyPair();
  const next = [
    'signer: ' + k.signer,
    'LEDGER_SIGNING_KEY_FILE gets the private key (chmod 600, never in the repository);',
    'append the public key to LEDGER_TRUSTED_KEYS_FILE on every replica BEFORE any replica signs with it.',
  ].join('\n');
  if (prefix) {
    writeFileSync(`${prefix}.key`, k.privateKeyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(`${prefix}.pub`, k.publicKeyPem, { mode: 0o644, flag: 'wx' });
    out(`wrote ${prefix}.key (0600) and ${prefix}.pub\n${next}\n`);
  } else {
    out(k.privateKeyPem + k.publicKeyPem);
    err(`${next}\n`);
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = keygen(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}
