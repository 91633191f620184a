import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  /** false when REDIS_URL points at a server this helper does not own (stop/freeze tests skip). */
  controllable: boolean;
  stop(): Promise<void>;
  /** Starts the server again on the same port (data is gone: no persistence). */
  start(): Promise<void>;
  freeze(): void;
  thaw(): void;
  flush(): Promise<void>;
  client(): Redis;
  close(): Promise<void>;
}

async function waitForPing(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return;
    } catch {
      c.disconnect();
      if (Date.now() > deadline) throw new Error(`redis at ${url} did not answer within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Runs redis-server ($2…) in the background, prints its pid and blocks reading stdin, a pipe from
 * the test process. A line ("stop") or EOF (the test process died, however) ends the read: redis
 * is killed (SIGCONT first, so a frozen one dies too) and reaped; on EOF its temp dir ($1) goes too.
 */
const WRAPPER = `
dir=$1; shift
command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 127; }
redis-server "$@" </dev/null >/dev/null 2>&1 &
pid=$!
echo "$pid"
if read -r _; then keep=1; else keep=0; fi
kill -CONT "$pid" 2>/dev/null
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ "$keep" = 1 ] || rm -rf -- "$dir"
`;

/**
 * A private redis-server on a free port for one suite (no persistence, its own temp dir),
 * or the server at REDIS_URL when that is set.
 */
export async function startTestRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const clients: Redis[] = [];
  const makeClient = (url: string) => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  const closeClients = async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  };

  const external = process.env.REDIS_URL;
  if (external) {
    await waitForPing(external);
    const admin = makeClient(external);
    return {
      url: external,
      port: Number(new URL(external).port || 6379),
      controllable: false,
      stop: async () => undefined,
      start: async () => undefined,
      freeze: () => undefined,
      thaw: () => undefined,
      flush: async () => void (await admin.flushdb()),
      client: () => makeClient(external),
      close: closeClients,
    };
  }

  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'p28-redis-'));
  const url = `redis://127.0.0.1:${port}/0`;
  let proc: { wrapper: ChildProcess; pid: number; exited: Promise<void> } | undefined;

  const start = async () => {
    // A pipe, not PR_SET_PDEATHSIG (per thread, so a vitest worker thread would trip it): the
    // wrapper's stdin closes whenever this process dies, even on SIGKILL, and then it kills redis.
    const wrapper = spawn(
      'sh',
      [
        '-c',
        WRAPPER,
        'p28-test-redis',
        dir,
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extraArgs,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    wrapper.stdin!.on('error', () => undefined);
    let stderr = '';
    wrapper.stderr!.on('data', (c) => (stderr += String(c)));
    const exited = new Promise<void>((resolve) => wrapper.once('close', () => resolve()));
    const pid = await new Promise<number>((resolve, reject) => {
      let out = '';
      wrapper.stdout!.on('data', (c) => {
        out += String(c);
        if (out.includes('\n')) resolve(Number(out.split('\n')[0]));
      });
      wrapper.once('error', (err) => reject(new Error(`cannot run sh: ${err.message}`)));
      void exited.then(() =>
        reject(
          new Error(
            `cannot start redis-server (is it installed? apt-get install redis-server): ${stderr.trim()}`,
          ),
        ),
      );
    });
    proc = { wrapper, pid, exited };
    await waitForPing(url);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p) return;
    // "stop" tells the wrapper to keep the dir (start() reuses it); it exits once redis has.
    p.wrapper.stdin!.end('stop\n');
    await p.exited;
  };
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (proc) process.kill(proc.pid, sig);
    } catch {
      /* already gone */
    }
  };

  await start();
  const admin = makeClient(url);
  return {
    url,
    port,
    controllable: true,
    stop,
    start,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    flush: async () => void (await admin.flushall()),
    client: () => makeClient(url),
    close: async () => {
      await closeClients();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
