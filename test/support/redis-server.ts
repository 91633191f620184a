import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { spawnTied, type TiedProcess } from '../../scripts/tied-process.js';

/**
 * A free port below the kernel's ephemeral range (32768–60999 by default): a port from that range,
 * left free while a test's redis-server is stopped, can be taken as the source port of any outgoing
 * connection on the machine, and the restarted server then cannot bind it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    if (await canListen(port)) return port;
  }
  return listenOn(0);
}

function canListen(port: number): Promise<boolean> {
  return listenOn(port).then(
    () => true,
    () => false,
  );
}

function listenOn(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const got = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(got));
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
  let proc: TiedProcess | undefined;

  const start = async () => {
    if (proc?.running()) throw new Error(`redis-server on port ${port} is already running`);
    // tied: redis dies with this process, even on SIGKILL, and the dir goes too
    proc = await spawnTied(
      'redis-server',
      [
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
      { removeOnOrphan: dir },
    ).catch((err: Error) => {
      throw new Error(
        `cannot start redis-server (is it installed? apt-get install redis-server): ${err.message}`,
      );
    });
    await waitForPing(url);
    // another server on the port (ours failed to bind) would answer the ping just as well
    const probe = new Redis(url, { maxRetriesPerRequest: 0, lazyConnect: true });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      const info = await probe.info('server');
      const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
      if (pid !== proc.pid) {
        await stop();
        throw new Error(`port ${port} is held by another redis-server (pid ${pid}); ours did not start`);
      }
    } finally {
      probe.disconnect();
    }
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    // the dir stays (start() reuses it)
    await p?.stop();
  };
  const signal = (sig: NodeJS.Signals) => proc?.signal(sig);

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
