import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/app.js';
import { freePort } from '../support/redis-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO = ['--import', '@swc-node/register/esm-register', 'scripts/demo.ts'];

describe('npm run demo', () => {
  it('computes budgets within 30 s, prints where to look, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'p28-demo-'));
    const proc = spawn(process.execPath, DEMO, {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: String(port), DEMO_DATA_DIR: data },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    try {
      const started = performance.now();
      const token = await waitFor(() => /operator token : (\S+)/.exec(out)?.[1], {
        timeoutMs: 30_000,
        what: 'the token line',
      });
      const budgets = await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/budgets`, {
            headers: { authorization: `Bearer ${token}` },
          });
          const body = (await res.json()) as { count: number };
          return body.count > 0 ? body : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'budgets' },
      );
      const seconds = (performance.now() - started) / 1000;
      console.log(`demo: ${budgets.count} budgets after ${seconds.toFixed(1)} s`);
      expect(seconds).toBeLessThan(30);
      for (const where of ['/health', '/metrics', '/budgets', '/ops/shadow-report', '/docs'])
        expect(out).toContain(where);
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      proc.kill('SIGKILL');
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);

  it('says how to get redis-server when it is missing', () => {
    const r = spawnSync(process.execPath, DEMO, {
      cwd: ROOT,
      env: { PATH: '/nonexistent' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/redis-server is not installed.*apt-get install redis-server/s);
  });
});
