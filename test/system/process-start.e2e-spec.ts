import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startTestRedis, type TestRedis } from '../support/redis-server.js';
import { descendants } from '../support/processes.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface Started {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function start(cmd: string, args: string[], env: Record<string, string>): Started {
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...String(chunk).split('\n').filter(Boolean));
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, lines, exited };
}

async function waitLive(s: Started, url: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (s.proc.exitCode !== null) throw new Error(`exited early:\n${s.lines.join('\n')}`);
    try {
      if ((await fetch(`${url}/health/live`)).ok) return;
    } catch {
      /* starting */
    }
    if (Date.now() > deadline) throw new Error(`did not start:\n${s.lines.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

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

function canListen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const srv = createServer();
    srv.once('error', () => r(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => r(true)));
  });
}

describe('process start and network binding', () => {
  let redis: TestRedis;
  const started: Started[] = [];
  const strays: number[] = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterEach(async () => {
    for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const s of started.splice(0)) {
      if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
      await s.exited;
    }
  });
  afterAll(async () => {
    await redis?.close();
  });

  const baseEnv = () => ({
    REDIS_URL: redis.url,
    HEAT_GATE_METRICS_URL: 'http://127.0.0.1:9/metrics',
    HEAT_TIMEOUT_MS: '100',
  });

  it('npm start leaves no orphan: SIGTERM to npm alone stops node and frees the port', async () => {
    const port = await freePort();
    const npm = start('npm', ['start', '--silent'], { ...baseEnv(), PORT: String(port) });
    started.push(npm);
    await waitLive(npm, `http://127.0.0.1:${port}`, 120_000);
    const below = descendants(npm.proc.pid!);
    strays.push(...below);
    expect(below.length).toBeGreaterThan(0);

    // a supervisor or `timeout` signals only the process it started
    process.kill(npm.proc.pid!, 'SIGTERM');
    await npm.exited;
    const deadline = Date.now() + 15_000;
    while (below.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(below.filter(alive), npm.lines.slice(-20).join('\n')).toEqual([]);
    expect(await canListen(port)).toBe(true);
  }, 180_000);

  it('binds 127.0.0.1 by default, and the address HOST names otherwise', async () => {
    const port = await freePort();
    const app = start(process.execPath, ['--import', '@swc-node/register/esm-register', 'src/main.ts'], {
      ...baseEnv(),
      PORT: String(port),
    });
    started.push(app);
    await waitLive(app, `http://127.0.0.1:${port}`, 60_000);
    // every 127/8 address reaches the loopback interface: a 0.0.0.0 bind would accept this one too
    expect(await accepts('127.0.0.2', port)).toBe(false);
    expect(app.lines.some((l) => l.includes('"host":"127.0.0.1"'))).toBe(true);
    app.proc.kill('SIGTERM');
    expect(await app.exited).toBe(0);

    const port2 = await freePort();
    const other = start(process.execPath, ['--import', '@swc-node/register/esm-register', 'src/main.ts'], {
      ...baseEnv(),
      PORT: String(port2),
      HOST: '127.0.0.2',
    });
    started.push(other);
    await waitLive(other, `http://127.0.0.2:${port2}`, 60_000);
    expect(await accepts('127.0.0.1', port2)).toBe(false);
  }, 150_000);
});
