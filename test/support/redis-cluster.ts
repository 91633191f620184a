import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort } from './redis-server.js';
import { spawnTied, type TiedProcess } from '../../scripts/tied-process.js';

// ---------------------------------------------------------------------------------------------
// redis-server processes (shared with redis-sentinel.ts)
// ---------------------------------------------------------------------------------------------

export interface RedisProcess {
  port: number;
  /** The port given to args() as busPort (the cluster bus, when the spec uses it). */
  busPort: number;
  dir: string;
  /** The last lines the server printed, for error messages. */
  output(): string;
  alive(): boolean;
  /** SIGKILL and wait for the exit; idempotent. */
  kill(): Promise<void>;
}

export interface RedisProcessSpec {
  /** Names the temp dir and error messages. */
  label: string;
  /** Full argv after `redis-server`, built from the ports picked for this attempt and the dir. */
  args(ports: { port: number; busPort: number }, dir: string): string[];
}

/**
 * Admin connection that fails fast instead of queueing (a test helper must not hang). `reconnect`
 * for connections that must outlive a sentinel reconfiguration, which kills every normal client.
 */
export function adminClient(port: number, { reconnect = false } = {}): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    retryStrategy: reconnect ? () => 50 : () => null,
  });
  c.on('error', () => undefined);
  return c;
}

async function pingUntilUp(proc: TiedProcess, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (proc.running()) {
    const c = adminClient(port);
    try {
      await c.connect();
      await c.ping();
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await sleep(20);
    } finally {
      c.disconnect();
    }
  }
  return false;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns a redis-server in its own temp dir and resolves once it answers PING. freePort() only
 * proves a port was free a moment ago, so a server that dies on start (port taken meanwhile)
 * is retried on new ports rather than failing the suite.
 */
export async function startRedisProcess(spec: RedisProcessSpec, attempts = 3): Promise<RedisProcess> {
  let lastOutput = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const [port, busPort] = await Promise.all([freePort(), freePort()]);
    const dir = mkdtempSync(join(tmpdir(), `p28-${spec.label}-`));
    const lines: string[] = [];
    const keep = (chunk: string) => {
      lines.push(...chunk.split('\n').filter(Boolean));
      if (lines.length > 40) lines.splice(0, lines.length - 40);
    };
    // tied: the server dies with this process, even on SIGKILL, and its dir goes too
    const proc = await spawnTied('redis-server', spec.args({ port, busPort }, dir), {
      removeOnOrphan: dir,
      onOutput: keep,
    }).catch((err: Error) => {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `cannot start redis-server (is it installed? apt-get install redis-server): ${err.message}`,
      );
    });
    const up = await pingUntilUp(proc, port, 10_000);
    const handle: RedisProcess = {
      port,
      busPort,
      dir,
      output: () => lines.join('\n'),
      alive: () => proc.running(),
      kill: async () => {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    if (up) return handle;
    lastOutput = handle.output();
    await handle.kill();
  }
  throw new Error(`redis-server (${spec.label}) did not start after ${attempts} attempts:\n${lastOutput}`);
}

/** `INFO`/`CLUSTER INFO` text as a field map. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Polls `fn` until it returns true; the message names what never happened. */
export async function until(
  fn: () => Promise<boolean>,
  what: string,
  timeoutMs: number,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await fn()) return;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// the cluster
// ---------------------------------------------------------------------------------------------

const SLOTS = 16384;
const MASTERS = 3;

export interface TestClusterOptions {
  /** One replica per master (6 processes). Off by default: it doubles the startup cost. */
  replicas?: boolean;
}

export interface TestCluster {
  kind: 'cluster';
  /** `127.0.0.1:port` of the masters, then the replicas. */
  nodes: string[];
  masterPorts: number[];
  replicaPorts: number[];
  env: { REDIS_CLUSTER_NODES: string };
  /** A cluster-aware client, closed by close(). */
  client(): Cluster;
  /** FLUSHALL on every master (replicas follow through replication). */
  flush(): Promise<void>;
  /** Stops every process and removes the temp dirs; safe to call twice or after a failed start. */
  close(): Promise<void>;
}

function nodeArgs({ port, busPort }: { port: number; busPort: number }, dir: string): string[] {
  return [
    '--port',
    String(port),
    // explicit bus port: port+10000 can be taken, or past 65535 for an ephemeral port
    '--cluster-port',
    String(busPort),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    '2000',
    '--cluster-announce-ip',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    // the 7.0 default waits 5 s for more replicas before a diskless full sync
    '--repl-diskless-sync-delay',
    '0',
    '--dir',
    dir,
  ];
}

/**
 * A 3-master Redis Cluster on free ports, formed with CLUSTER ADDSLOTSRANGE / SET-CONFIG-EPOCH /
 * MEET directly rather than `redis-cli --cluster create`, whose join wait polls once a second.
 * Resolves once every node reports cluster_state:ok and knows every other node.
 */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const procs: RedisProcess[] = [];
  const admins: Redis[] = [];
  const clients: Cluster[] = [];
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
    for (const c of [...clients, ...admins]) c.disconnect();
    await Promise.all(procs.map((p) => p.kill()));
  };

  try {
    const count = opts.replicas ? MASTERS * 2 : MASTERS;
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) => startRedisProcess({ label: `cluster${i}`, args: nodeArgs })),
    );
    procs.push(...started);
    const admin = started.map((p) => {
      const c = adminClient(p.port);
      admins.push(c);
      return c;
    });
    await Promise.all(admin.map((c) => c.connect()));
    const masters = admin.slice(0, MASTERS);
    const replicas = admin.slice(MASTERS);

    // distinct epochs up front, as redis-cli does, so no epoch-collision round delays the join
    await Promise.all(
      masters.map(async (c, i) => {
        const first = Math.floor((SLOTS * i) / MASTERS);
        const last = Math.floor((SLOTS * (i + 1)) / MASTERS) - 1;
        await c.call('CLUSTER', 'ADDSLOTSRANGE', String(first), String(last));
        await c.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
      }),
    );
    await Promise.all(
      admin
        .slice(1)
        .map((_, i) =>
          admin[0].call(
            'CLUSTER',
            'MEET',
            '127.0.0.1',
            String(started[i + 1].port),
            String(started[i + 1].busPort),
          ),
        ),
    );

    const allOk = async () => {
      const infos = await Promise.all(admin.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
      return infos.every((text) => {
        const info = parseInfo(text);
        return info.cluster_state === 'ok' && Number(info.cluster_known_nodes) === count;
      });
    };
    await until(allOk, 'cluster_state:ok on every node', 15_000);

    if (replicas.length) {
      const ids = await Promise.all(masters.map((c) => c.call('CLUSTER', 'MYID') as Promise<string>));
      await Promise.all(replicas.map((c, i) => c.call('CLUSTER', 'REPLICATE', ids[i])));
      await until(
        async () => {
          const infos = await Promise.all(replicas.map((c) => c.info('replication')));
          return infos.every((t) => parseInfo(t).master_link_status === 'up');
        },
        'every cluster replica in sync',
        15_000,
      );
      // a node that just turned replica re-reads the slot map; clients connect only once it agrees
      await until(allOk, 'cluster_state:ok after adding replicas', 15_000);
    }

    const nodes = started.map((p) => `127.0.0.1:${p.port}`);
    return {
      kind: 'cluster',
      nodes,
      masterPorts: started.slice(0, MASTERS).map((p) => p.port),
      replicaPorts: started.slice(MASTERS).map((p) => p.port),
      env: { REDIS_CLUSTER_NODES: nodes.slice(0, MASTERS).join(',') },
      client: () => {
        const c = new Cluster(
          started.slice(0, MASTERS).map((p) => ({ host: '127.0.0.1', port: p.port })),
          { redisOptions: { maxRetriesPerRequest: 1 } },
        );
        c.on('error', () => undefined);
        clients.push(c);
        return c;
      },
      flush: async () => {
        await Promise.all(masters.map((c) => c.flushall()));
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
