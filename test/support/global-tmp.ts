import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest globalSetup: one temp root for the whole run, removed at its end. Test workers are
 * killed rather than exited, so their own 'exit' handlers never ran and key pairs piled up.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'p28-test-run-'));
  process.env.P28_TEST_TMP = root;
  return () => rmSync(root, { recursive: true, force: true });
}
