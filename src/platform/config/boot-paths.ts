import { accessSync, constants, existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type { AppConfig } from './env.schema.js';
import { ConfigError } from './config-error.js';

/** Kernel file systems: reading /dev/zero or a /proc file as a ledger never ends or never makes sense. */
const SPECIAL_ROOTS = ['/proc', '/sys', '/dev'];

const isUnder = (path: string, root: string) => path === root || path.startsWith(root + sep);

/** Why `path` cannot hold the ledger mirror, or undefined when it can. Follows symlinks first. */
function ledgerFileProblem(path: string): string | undefined {
  let target = resolve(path);
  // existsSync follows links: a dangling one would send the mirror's first append wherever it points
  if (!existsSync(target) && lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink()) {
    return 'is a symlink to a file that does not exist; point it at the real file';
  }
  // the nearest existing ancestor decides where a file still to create would land
  let existing = target;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  let real: string;
  try {
    real = realpathSync(existing);
  } catch {
    real = existing;
  }
  if (existing === target) target = real;
  else target = resolve(real, target.slice(existing.length + 1));
  const special = SPECIAL_ROOTS.find((root) => isUnder(target, root) || isUnder(real, root));
  if (special) return `is under ${special}, a kernel file system; point it at a regular file on disk`;

  const st = statSync(real);
  if (real === target) {
    if (st.isDirectory()) return 'is a directory; name a file inside it (e.g. ledger.jsonl)';
    if (!st.isFile()) return 'is not a regular file (a FIFO, socket or device)';
  } else if (!st.isDirectory()) {
    return `cannot be created: ${real} is not a directory`;
  }
  try {
    accessSync(real, constants.W_OK);
  } catch {
    return `is not writable by this process (${real})`;
  }
  return undefined;
}

/** Boot checks that touch the file system (loadConfig stays pure); throws ConfigError naming the variable. */
export function checkBootPaths(config: AppConfig): AppConfig {
  const problems: string[] = [];
  if (config.LEDGER_FILE) {
    const problem = ledgerFileProblem(config.LEDGER_FILE);
    if (problem) problems.push(`LEDGER_FILE=${JSON.stringify(config.LEDGER_FILE)}: ${problem}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
