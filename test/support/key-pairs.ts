import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/core/ledger/ledger-keys.js';

export interface TestKeyPair {
  dir: string;
  privateKeyFile: string;
  publicKeyPem: string;
  trustedKeysFile: string;
  signer: string;
}

const keyDirs = new Set<string>();
let exitHook = false;

/**
 * A key pair in its own 0700 temp dir. Removed after each test file (the afterAll of
 * test/support/setup.ts: vitest kills its workers, so an 'exit' handler alone never ran there)
 * and, for scripts (benches), when the process exits.
 */
export function makeTestKeyPair(): TestKeyPair {
  const dir = mkdtempSync(join(tmpdir(), 'p28-keys-'));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeTestKeyPairs);
  }
  keyDirs.add(dir);
  const { privateKeyPem, publicKeyPem, signer } = generateKeyPair();
  const privateKeyFile = join(dir, 'ledger.key');
  const trustedKeysFile = join(dir, 'trusted.pem');
  writeFileSync(privateKeyFile, privateKeyPem, { mode: 0o600 });
  writeFileSync(trustedKeysFile, publicKeyPem, { mode: 0o644 });
  return { dir, privateKeyFile, publicKeyPem, trustedKeysFile, signer };
}

let shared: TestKeyPair | undefined;
/** One key pair for every app of the test file (or script), so replicas in a suite trust each other. */
export function sharedTestKeyPair(): TestKeyPair {
  shared ??= makeTestKeyPair();
  return shared;
}

/** Removes every key pair made so far; the next sharedTestKeyPair() makes a new one. */
export function removeTestKeyPairs(): void {
  for (const d of keyDirs) rmSync(d, { recursive: true, force: true });
  keyDirs.clear();
  shared = undefined;
}
