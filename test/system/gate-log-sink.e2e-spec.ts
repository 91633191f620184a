import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createLogDestination, logLinesDropped } from '../../src/platform/logging/log-destination.js';
import { createTestApp } from '../support/app.js';
import { startTestRedis } from '../support/redis-server.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** Issue 11 item 2: behind a slow log sink the logger's memory stays bounded and SIGTERM does not hang. */
describe('logging behind a log sink that stopped reading', () => {
  it('keeps memory bounded while the sink is stalled, and exits promptly on SIGTERM', async () => {
    const proc = spawn(
      process.execPath,
      ['--import', '@swc-node/register/esm-register', 'test/support/log-flood.ts'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // read a little, then stop: the pipe fills and every later line has nowhere to go
    proc.stdout.once('data', () => proc.stdout.pause());
    const samples: Array<{ heap: number; rss: number; written: number }> = [];
    let err = '';
    proc.stderr.on('data', (chunk: Buffer) => {
      err += String(chunk);
      for (const l of err.split('\n').slice(0, -1)) {
        try {
          const s = JSON.parse(l) as { heap?: number; rss: number; written: number };
          if (s.heap !== undefined) samples.push(s as { heap: number; rss: number; written: number });
        } catch {
          /* not a sample */
        }
      }
      err = err.slice(err.lastIndexOf('\n') + 1);
    });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const last = samples[samples.length - 1];
      expect(last.written, 'the flood ran').toBeGreaterThan(50_000);
      // ~200 MB of lines offered to a stalled sink: the heap stays far below that
      const maxHeap = Math.max(...samples.map((s) => s.heap));
      console.log(`stalled sink: ${last.written} lines offered, max heap ${(maxHeap / 1e6).toFixed(1)} MB`);
      expect(maxHeap).toBeLessThan(100e6);
      const started = performance.now();
      proc.kill('SIGTERM');
      const timeout = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000));
      const outcome = await Promise.race([exited, timeout]);
      console.log(`SIGTERM to exit: ${(performance.now() - started).toFixed(0)} ms (${String(outcome)})`);
      expect(outcome).toBe(0);
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    }
  }, 30_000);

  it('a sink that keeps reading gets every line, the last included, when the process exits right after', async () => {
    const proc = spawn(
      process.execPath,
      ['--import', '@swc-node/register/esm-register', 'test/support/log-flood.ts', '--lines=3000'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += String(c)));
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    await new Promise((r) => setTimeout(r, 100));
    const numbered = out
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { n?: number }).n)
      .filter((n) => n !== undefined);
    expect(code).toBe(0);
    expect(numbered).toHaveLength(3000);
    expect(numbered[2999]).toBe(2999);
  }, 30_000);

  it('counts dropped lines in p28_log_dropped_total', async () => {
    const redis = await startTestRedis();
    const t = await createTestApp({ REDIS_URL: redis.url, BUDGET_COMPUTE_INTERVAL_SEC: '3600' });
    const sleeper = spawn('sleep', ['30'], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const metric = async () => {
        const text = (await request(t.http).get('/metrics').expect(200)).text;
        const l = text.split('\n').find((x) => x.startsWith('p28_log_dropped_total '));
        return Number(l?.split(' ')[1] ?? 'NaN');
      };
      const before = await metric();
      const fd = (sleeper.stdin as unknown as { _handle: { fd: number } })._handle.fd;
      const dest = createLogDestination({ fd, maxBufferBytes: 16 * 1024 });
      const dropped = logLinesDropped();
      for (let i = 0; i < 2000; i++) dest.write(`${JSON.stringify({ msg: 'z'.repeat(300) })}\n`);
      const n = logLinesDropped() - dropped;
      expect(n).toBeGreaterThan(1000);
      expect(await metric()).toBe(before + n);
    } finally {
      sleeper.kill('SIGKILL');
      await t.close();
      await redis.close();
    }
  });
});
