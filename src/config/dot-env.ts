import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * Adds the variables of a dotenv file to `env`, Node's own parser doing the reading. A variable the
 * environment already holds (even empty) is kept: the real environment wins over the file, as with
 * `node --env-file`. Returns whether the file existed; an unreadable file throws, naming it.
 */
export function loadDotEnv(file: string, env: Record<string, string | undefined>): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
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
