import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/app.js';
import { freePort } from '../support/redis-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO = ['--import', '@swc-node/register/esm-register', 'scripts/demo.ts'];

function runDemo(env: Record<string, string>) {
  const proc = spawn(process.execPath, DEMO, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const io = { out: '', err: '' };
  proc.stdout.on('data', (d) => (io.out += d));
  proc.stderr.on('data', (d) => (io.err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { proc, io, exited };
}

/** Resolves with the exit code, or 'timeout' when the process is still running after `ms`. */
function exitWithin(exited: Promise<number | null>, ms: number): Promise<number | null | 'timeout'> {
  return Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);
}

function listen(server: Server | ReturnType<typeof createHttpServer>, port: number, host: string) {
  return new Promise<void>((r) => server.listen(port, host, () => r()));
}

/** Whether something accepts TCP connections on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

/** Kills the demo with its service and redis-server: a failed test must not leave them running. */
function killGroup(proc: ChildProcess) {
  try {
    process.kill(-proc.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}
const stopAll = (procs: ChildProcess[]) => procs.forEach(killGroup);

describe('npm run demo', () => {
  it('computes budgets within 30 s, prints where to look, and stops cleanly on Ctrl-C', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'p28-demo-'));
    // its own process group, so that cleanup reaches the service and redis-server it starts
    const proc = spawn(process.execPath, DEMO, {
      detached: true,
      cwd: ROOT,
      // a HOST meant for the real service must not open the demo to the network
      env: { PATH: process.env.PATH, PORT: String(port), DEMO_DATA_DIR: data, HOST: '0.0.0.0' },
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
      // the operator CLI next to curl, with the URL and token it reads
      expect(out).toContain(`export P28_URL=http://127.0.0.1:${port} P28_TOKEN=${token}`);
      for (const cmd of [
        'npm run ctl -- status',
        'npm run ctl -- budgets',
        'npm run ctl -- mode reduce-only --reason',
        'npm run ctl -- rollback --reason',
      ])
        expect(out).toContain(cmd);
      // every 127/8 address reaches loopback: a 0.0.0.0 bind would accept this one too
      expect(await accepts('127.0.0.2', port)).toBe(false);
      proc.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      killGroup(proc);
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);

  it('leaves no redis-server or service behind when it is killed with -9', async () => {
    const port = await freePort();
    const data = mkdtempSync(join(tmpdir(), 'p28-demo-'));
    const demo = runDemo({ PORT: String(port), DEMO_DATA_DIR: data });
    try {
      await waitFor(() => /operator token : \S+/.test(demo.io.out), {
        timeoutMs: 30_000,
        what: 'the token line',
      });
      const redisPort = Number(/redis {10}: redis:\/\/127\.0\.0\.1:(\d+)/.exec(demo.io.out)?.[1]);
      expect(await accepts('127.0.0.1', redisPort)).toBe(true);
      expect(await accepts('127.0.0.1', port)).toBe(true);
      demo.proc.kill('SIGKILL'); // the demo alone, not its process group: no Ctrl-C handler runs
      await demo.exited;
      for (const p of [port, redisPort]) {
        await waitFor(async () => !(await accepts('127.0.0.1', p)), {
          timeoutMs: 10_000,
          what: `nothing to listen on 127.0.0.1:${p} after the demo died`,
        });
      }
    } finally {
      stopAll([demo.proc]);
      rmSync(data, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses a taken port, says how to choose another, and prints no token for the stranger', async () => {
    const port = await freePort();
    // the worst stranger: an HTTP server that answers 200 to everything, /health included
    const stranger = createHttpServer((_req, res) => res.end('{"status":"healthy"}'));
    await listen(stranger, port, '127.0.0.1');
    const data = mkdtempSync(join(tmpdir(), 'p28-demo-'));
    const demo = runDemo({ PORT: String(port), DEMO_DATA_DIR: data });
    try {
      const code = await exitWithin(demo.exited, 30_000);
      expect(code, demo.io.out + demo.io.err).toBe(1);
      expect(demo.io.err).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(demo.io.err).toMatch(/PORT=\d+ npm run demo/);
      expect(demo.io.out).not.toMatch(/operator token|P28_TOKEN=/);
      // nothing left behind: the demo's own redis-server is stopped too
      expect(spawnSync('pgrep', ['-f', '--', `--dir ${data}`]).status).toBe(1);
    } finally {
      stopAll([demo.proc]);
      stranger.close();
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);

  it('a stranger on the port of any address (0.0.0.0) is refused the same way', async () => {
    const port = await freePort();
    const stranger = createServer((s) => s.end());
    await listen(stranger, port, '0.0.0.0');
    const data = mkdtempSync(join(tmpdir(), 'p28-demo-'));
    const demo = runDemo({ PORT: String(port), DEMO_DATA_DIR: data });
    try {
      expect(await exitWithin(demo.exited, 30_000), demo.io.err).toBe(1);
      expect(demo.io.err).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(demo.io.out).not.toContain('operator token');
    } finally {
      stopAll([demo.proc]);
      stranger.close();
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);

  it('waits for its Redis by PING: a Redis port held by something else is reported, not waited on', async () => {
    const redisPort = await freePort();
    // accepts connections and never answers: a sleep-then-go demo would carry on against it
    const silent = createServer(() => undefined);
    await listen(silent, redisPort, '127.0.0.1');
    const data = mkdtempSync(join(tmpdir(), 'p28-demo-'));
    const demo = runDemo({
      PORT: String(await freePort()),
      DEMO_REDIS_PORT: String(redisPort),
      DEMO_DATA_DIR: data,
    });
    try {
      expect(await exitWithin(demo.exited, 30_000), demo.io.out + demo.io.err).toBe(1);
      expect(demo.io.err).toContain(`redis-server did not answer PING on 127.0.0.1:${redisPort}`);
      expect(demo.io.err).toContain('DEMO_REDIS_PORT=');
      expect(demo.io.out).not.toContain('operator token');
    } finally {
      stopAll([demo.proc]);
      silent.close();
      rmSync(data, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses a PORT that is not a port number before starting anything', () => {
    for (const bad of ['abc', '0', '70000', '80.5']) {
      const r = spawnSync(process.execPath, DEMO, {
        cwd: ROOT,
        env: { PATH: process.env.PATH, PORT: bad },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, bad).toBe(1);
      expect(r.stderr).toContain(`PORT="${bad}" is not a port number`);
      expect(r.stdout).not.toContain('operator token');
    }
  }, 60_000);

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

describe('README: a stranger gets from a fresh clone to a demo', () => {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  // what a terminal or a repository page shows before any scrolling
  const firstScreen = readme.split('\n').slice(0, 45).join('\n');

  it('shows the two commands, the CLI and the kill switch on its first screen', () => {
    for (const text of [
      'npm ci && npm run demo',
      'npm ci && npm test',
      'p28ctl status',
      'p28ctl mode reduce-only --reason',
      'p28ctl rollback --reason',
    ])
      expect(firstScreen, text).toContain(text);
  });

  it('lists the prerequisites: the Node of package.json engines, redis-server, and what npm ci needs', () => {
    const engines = (
      JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
    ).engines.node;
    const min = engines.replace('>=', '');
    const prereq = readme.slice(readme.indexOf('## Prerequisites'));
    expect(readme).toContain('## Prerequisites');
    expect(prereq).toContain(`Node ${min.replace(/\.0$/, '')}`);
    expect(prereq).toMatch(/tested on Node v\d+\.\d+\.\d+/);
    expect(prereq).toMatch(/Node < 22|Node 22/);
    expect(prereq).toContain('redis-server');
    expect(prereq).toMatch(/registry/);
    // what .env does and that the real environment wins
    expect(readme).toMatch(/\.env[^\n]*\n?[^\n]*real environment wins/);
  });
});
