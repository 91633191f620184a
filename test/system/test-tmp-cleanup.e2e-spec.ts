import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

// A test file that signs the ledger writes a private key to the temp dir: it must not outlive the file.
describe('a test run cleans up its key pairs', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'p28-tmp-check-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a suite that signs the ledger leaves no key pair behind', () => {
    const run = spawnSync(
      process.execPath,
      [
        resolve(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        // one worker: this runs beside the outer run's own workers
        '--maxWorkers=1',
        'test/medium/governor-gate/gate-repository.e2e-spec.ts',
      ],
      // REDIS_URL unset: the suite starts its own server; TMPDIR points every temp file here
      { cwd: ROOT, env: { ...process.env, TMPDIR: tmp, REDIS_URL: '' }, encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
