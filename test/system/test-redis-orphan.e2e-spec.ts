import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { descendants } from '../support/processes.js';

// What the test helpers start (redis-server.ts, redis-cluster.ts and so redis-sentinel.ts,
// process-app.ts; built.ts shares the process-app code path through tied-process.ts) must not
// outlive the process that started it, even when that dies without close() (SIGKILL, `timeout`,
// a crash).

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = resolve(import.meta.dirname, 'fixtures/hold-test-processes.ts');

/** Running or stopped; a zombie (dead, not yet reaped by its new parent) counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** True when something on 127.0.0.1:port answers PING with +PONG. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(port, '127.0.0.1');
    let reply = '';
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(500, () => finish(false));
    sock.on('error', () => finish(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (chunk) => {
      reply += String(chunk);
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

/** True when something accepts a TCP connection on 127.0.0.1:port (a frozen redis still does). */
function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(port, '127.0.0.1');
    const finish = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(500, () => finish(false));
    sock.on('error', () => finish(false));
    sock.on('connect', () => finish(true));
  });
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`still not true after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the test helpers leave no orphan', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it.each([
    ['a running redis-server (startTestRedis)', ['redis']],
    ['a frozen (SIGSTOP) redis-server (startTestRedis)', ['redis', '--frozen']],
    ['the redis-servers of startTestCluster (startRedisProcess)', ['cluster']],
    ['the service of startProcessApp, and its redis-server', ['app']],
  ])(
    '%s die with their parent when the parent is SIGKILLed',
    async (_, args: string[]) => {
      const tmp = mkdtempSync(join(tmpdir(), 'p28-orphan-test-'));
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        TMPDIR: tmp,
      };
      const child = spawn(
        process.execPath,
        ['--import', '@swc-node/register/esm-register', FIXTURE, ...args],
        {
          cwd: ROOT,
          env, // no REDIS_URL: the fixture must start a private server
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let spawned: number[] = [];
      cleanups.push(() => {
        // never leave anything behind, whatever the outcome (the old helper did leave an orphan)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        for (const pid of spawned.filter(alive)) {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        }
        rmSync(tmp, { recursive: true, force: true });
      });

      let out = '';
      let err = '';
      child.stderr!.on('data', (c) => (err += String(c)));
      const ports = await new Promise<number[]>((done, fail) => {
        child.stdout!.on('data', (c) => {
          out += String(c);
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) done((JSON.parse(line) as { ports: number[] }).ports);
        });
        child.once('exit', (code) =>
          fail(new Error(`fixture exited (${code}) before printing its ports:\n${err}`)),
        );
      });
      expect(ports.length).toBeGreaterThan(0);
      expect(ports).not.toContain(6379);
      for (const port of ports) expect(await accepts(port), `127.0.0.1:${port}`).toBe(true);
      if (args[0] === 'redis') expect(await answersPing(ports[0])).toBe(!args.includes('--frozen'));
      spawned = descendants(child.pid!);
      expect(spawned.length).toBeGreaterThan(0);
      const dirs = readdirSync(tmp).filter((n) => n.startsWith('p28-'));
      expect(dirs.length).toBeGreaterThan(0);

      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;

      for (const port of ports) {
        await eventually(`nothing listens on 127.0.0.1:${port}`, async () => !(await accepts(port)));
      }
      await eventually(`processes ${spawned.join(',')} started by the killed parent are gone`, () =>
        spawned.every((pid) => !alive(pid)),
      );
      await eventually(`temp dirs ${dirs.join(', ')} of the killed parent's processes are removed`, () =>
        readdirSync(tmp).every((n) => !dirs.includes(n)),
      );
    },
    60_000,
  );
});
