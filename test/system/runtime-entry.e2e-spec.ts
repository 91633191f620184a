import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION } from '../../src/runtime-check.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = resolve(ROOT, 'src/main.ts');
const SWC = ['--import', '@swc-node/register/esm-register'];
const swcEnv = { SWC_NODE_PROJECT: resolve(ROOT, 'tsconfig.json') };

/** A preload that makes the process report another Node version, as an old install would. */
const fakeNode = (version: string) => [
  '--import',
  `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'${version}'})`,
];

describe('the service entry: Node version and .env', () => {
  let redis: TestRedis;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'p28-entry-'));
    dirs.push(d);
    // swc's loader resolves itself from the working directory, where the .env under test lives
    symlinkSync(resolve(ROOT, 'node_modules'), join(d, 'node_modules'));
    return d;
  };
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await redis?.close();
  });

  it('refuses a Node older than package.json engines with a clear message, before loading Nest', () => {
    const r = spawnSync(process.execPath, [...SWC, ...fakeNode('20.11.1'), MAIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, ...swcEnv, REDIS_URL: redis.url, PORT: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain(`P2.8 needs Node ${MIN_NODE_VERSION} or newer`);
    expect(r.stderr).toContain('this is Node 20.11.1');
    expect(r.stderr).not.toMatch(/ERR_REQUIRE_ESM|at .*node_modules/);
    expect(r.stdout).toBe('');
  }, 90_000);

  it('loads .env from the working directory; the real environment wins over it', async () => {
    const dir = tempDir();
    const port = await freePort();
    // the real environment sets a valid HEAT_TIMEOUT_MS: the bad one in .env must not be used
    writeFileSync(
      join(dir, '.env'),
      `PORT=${port}\nREDIS_URL=${redis.url}\nHEAT_TIMEOUT_MS=not-a-number\nLOG_LEVEL=info\n`,
    );
    const proc = spawn(process.execPath, [...SWC, MAIN], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        ...swcEnv,
        HEAT_TIMEOUT_MS: '100',
        HEAT_GATE_METRICS_URL: 'http://127.0.0.1:9/metrics',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    try {
      const deadline = Date.now() + 60_000;
      let live = false;
      while (!live && proc.exitCode === null && Date.now() < deadline) {
        live = await fetch(`http://127.0.0.1:${port}/health/live`).then(
          (r) => r.ok,
          () => false,
        );
        if (!live) await new Promise((r) => setTimeout(r, 200));
      }
      expect(live, out).toBe(true);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
  }, 90_000);

  it('stops at boot naming .env when it exists but cannot be read', () => {
    const dir = tempDir();
    mkdirSync(join(dir, '.env'));
    const r = spawnSync(process.execPath, [...SWC, MAIN], {
      cwd: dir,
      env: { PATH: process.env.PATH, ...swcEnv, REDIS_URL: redis.url, PORT: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\.env exists but cannot be read/);
  }, 90_000);
});
