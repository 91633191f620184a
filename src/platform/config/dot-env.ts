import { readFileSync, statSync } from 'node:fs';

const MAX_BYTES = 1024 * 1024;
import { parseEnv } from 'node:util';

/**
 * Adds the variables of a dotenv file to `env`, Node's own parser doing the reading. A variable the
 * environment already holds (even empty) is kept: the real environment wins over the file, as with
 * `node --env-file`. Returns whether the file existed; an unreadable file throws, naming it.
 */
export function loadDotEnv(file: string, env: Record<string, string | undefined>): boolean {
  let text: string;
  try {
    // stat first: reading a FIFO or a device would block the start or never end
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat) return false;
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_BYTES) throw new Error('larger than 1 MB');
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file} exists but cannot be read (${(err as Error).message}); fix or remove it`);
  }
  for (const [key, value] of Object.entries(parseEnv(text))) {
    // defineProperty: a key named like an Object.prototype member is just a variable
    if (!Object.hasOwn(env, key))
      Object.defineProperty(env, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return true;
}

/** The service's .env: the working directory's, under the process environment. */
export function loadProcessDotEnv(file = '.env'): boolean {
  return loadDotEnv(file, process.env);
}
