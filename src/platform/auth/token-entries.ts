import { createHash, randomBytes } from 'node:crypto';

/** `service` may call only the gate (POST /governor/evaluate); viewer and operator the rest. */
export type Role = 'viewer' | 'operator' | 'service';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'service'];

export interface TokenEntry {
  name: string;
  role: Role;
  /** SHA-256 of the token, 32 bytes */
  hash: Buffer;
}

/** Same rule as the config check of OPS_API_TOKENS (src/config/load-config.ts). */
export const ACTOR_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;
const ENTRY = /^([^:]+):([^:]+):([0-9a-f]{64})$/;

export const sha256Hex = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Parses OPS_API_TOKENS entries (`name:role:sha256hex`). Throws naming the entry by position and
 * name, never by its hash. Two entries with the same hash are refused: the actor would be ambiguous.
 */
export function parseTokenEntries(list: readonly string[]): TokenEntry[] {
  const seen = new Map<string, string>();
  return list.map((raw, i) => {
    const m = ENTRY.exec(raw.trim());
    const name = raw.split(':')[0];
    if (!m || !ACTOR_NAME.test(m[1]) || !(ROLES as readonly string[]).includes(m[2])) {
      throw new Error(
        `OPS_API_TOKENS entry #${i + 1} (${name}) is not name:viewer|operator|service:sha256hex`,
      );
    }
    const other = seen.get(m[3]);
    if (other !== undefined) {
      throw new Error(`OPS_API_TOKENS entries "${other}" and "${m[1]}" have the same token hash`);
    }
    seen.set(m[3], m[1]);
    return { name: m[1], role: m[2] as Role, hash: Buffer.from(m[3], 'hex') };
  });
}

/** A new random token: 32 bytes, base64url (43 characters). */
export const newToken = (): string => randomBytes(32).toString('base64url');

export const tokenEntry = (name: string, role: Role, token: string): string =>
  `${name}:${role}:${sha256Hex(token)}`;

export class UsageError extends Error {}

/** `--name NAME --role viewer|operator|service` (also `--name=NAME`). */
export function parseTokenArgs(argv: readonly string[]): { name: string; role: Role } {
  const opts: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = /^--(name|role)=(.*)$/.exec(arg);
    if (eq) {
      opts[eq[1]] = eq[2];
    } else if (arg === '--name' || arg === '--role') {
      const v = argv[i + 1];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      opts[arg.slice(2)] = v;
      i++;
    } else {
      throw new UsageError(`unknown argument "${arg}"`);
    }
  }
  if (opts.name === undefined) throw new UsageError('--name is required');
  if (!ACTOR_NAME.test(opts.name)) {
    throw new UsageError('--name must be 1-64 characters of A-Z a-z 0-9 _ . @ -');
  }
  if (opts.role === undefined) throw new UsageError('--role is required (viewer, operator or service)');
  if (!(ROLES as readonly string[]).includes(opts.role)) {
    throw new UsageError(`--role must be viewer, operator or service, not "${opts.role}"`);
  }
  return { name: opts.name, role: opts.role as Role };
}
