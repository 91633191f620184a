/**
 * `npm run ledger:verify -- [--trusted KEYS.pem] MIRROR.jsonl`: checks a LEDGER_FILE mirror offline
 * with the public keys alone (no Redis, no service), with the same rules as GET /ops/ledger/verify.
 * Prints `{ok, entries, signed, breaks}`; exit 0 when it verifies, 1 when it does not, 2 on usage.
 * Runs from dist/ with no dev dependencies.
 */
// the mode vocabulary comes from the config schema, whose decorators need the metadata polyfill
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { KeyFileError, loadTrustedKeys, type TrustedKeys } from '../core/ledger/ledger-keys.js';
import { verifyLedger, type ChainItem, type LedgerReport } from '../core/ledger/ledger-verify.js';

/** Every line of the file as an entry; an unreadable line is an entry that cannot verify. */
export function readMirror(text: string): ChainItem[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      try {
        const v: unknown = JSON.parse(line);
        return {
          entry:
            v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {},
        };
      } catch {
        return { entry: {} };
      }
    });
}

export function verifyMirrorFile(path: string, trust?: TrustedKeys): LedgerReport {
  return verifyLedger(readMirror(readFileSync(path, 'utf8')), trust);
}

export function verifyCli(
  argv: readonly string[],
  out: (s: string) => void,
  err: (s: string) => void,
): number {
  const usage = () => {
    err('usage: ledger-verify [--trusted TRUSTED_KEYS.pem] LEDGER_FILE.jsonl\n');
    return 2;
  };
  const args = [...argv];
  let trustedPath: string | undefined;
  const t = args.indexOf('--trusted');
  if (t >= 0) {
    trustedPath = args[t + 1];
    if (!trustedPath) return usage();
    args.splice(t, 2);
  }
  if (args.length !== 1 || args[0].startsWith('--')) return usage();
  try {
    const trust = trustedPath ? loadTrustedKeys('--trusted', trustedPath) : undefined;
    const report = verifyMirrorFile(args[0], trust);
    out(`${JSON.stringify(report, null, 2)}\n`);
    if (!trust) err('no --trusted keys given: hash chain and shape only, signatures not checked\n');
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof KeyFileError || (e as NodeJS.ErrnoException).code) {
      err(`${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = verifyCli(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}
